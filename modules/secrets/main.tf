# Application secrets in Secrets Manager: the containers only. Values never pass through
# Terraform (no aws_secretsmanager_secret_version), so they never reach the state file;
# operators put them with `aws secretsmanager put-secret-value` (see README).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  via_secrets_manager = {
    "kms:ViaService"    = "secretsmanager.${data.aws_region.current.id}.${data.aws_partition.current.dns_suffix}"
    "kms:CallerAccount" = local.account_id
  }

  rotated_secrets       = { for key, secret in var.secrets : key => secret if secret.rotation_lambda_arn != null }
  rotation_lambda_roles = distinct([for secret in values(local.rotated_secrets) : secret.rotation_lambda_role_arn])

  # Per secret, the principals that get past the GetSecretValue deny.
  value_readers = {
    for key, secret in var.secrets :
    key => concat(var.reader_role_arns, compact([secret.rotation_lambda_role_arn]), var.admin_role_arns)
  }
}

# --- KMS key ---------------------------------------------------------------------------

# The administration statement lets IAM policies grant the key (administrators, operators
# putting values). The readers and rotation Lambdas are also named here, but may use the
# key only through Secrets Manager in this account.
module "kms" {
  source = "../kms-key"

  name                    = "${var.name}-secrets"
  description             = "Encrypts the ${var.name} application secrets in Secrets Manager"
  deletion_window_in_days = var.kms_deletion_window_in_days
  tags                    = var.tags

  policy_statements = concat(
    length(var.reader_role_arns) == 0 ? [] : [{
      Sid       = "DecryptForReadersViaSecretsManager"
      Effect    = "Allow"
      Principal = { AWS = var.reader_role_arns }
      Action    = ["kms:Decrypt", "kms:DescribeKey"]
      Resource  = "*"
      Condition = { StringEquals = local.via_secrets_manager }
    }],
    length(local.rotation_lambda_roles) == 0 ? [] : [{
      Sid       = "RotateViaSecretsManager"
      Effect    = "Allow"
      Principal = { AWS = local.rotation_lambda_roles }
      Action    = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]
      Resource  = "*"
      Condition = { StringEquals = local.via_secrets_manager }
    }],
  )
}

moved {
  from = aws_kms_key.this
  to   = module.kms.aws_kms_key.this
}

moved {
  from = aws_kms_alias.this
  to   = module.kms.aws_kms_alias.this
}

# --- secrets ---------------------------------------------------------------------------

resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:Rotation is scheduled for every secret given a rotation Lambda (aws_secretsmanager_secret_rotation below). Third-party credentials without a rotation API are rotated by operators with put-secret-value; a single for_each resource cannot carry the skip per secret.
  for_each = var.secrets

  name                    = "${var.name}/${each.key}"
  description             = each.value.description
  kms_key_id              = module.kms.arn
  recovery_window_in_days = var.recovery_window_in_days

  tags = merge({ Name = "${var.name}/${each.key}" }, var.tags)
}

# Same-account principals could read a secret through a broad IAM policy (e.g. an
# administrator's secretsmanager:*). The Deny below closes that: only the readers, this
# secret's rotation Lambda and the named admin roles get past it. Management calls
# (DescribeSecret, PutSecretValue, policy and tag changes) stay with IAM, so Terraform and
# operators can still manage the secret without seeing its value.
resource "aws_secretsmanager_secret_policy" "this" {
  for_each = var.secrets

  secret_arn          = aws_secretsmanager_secret.this[each.key].arn
  block_public_policy = true

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      length(var.reader_role_arns) == 0 ? [] : [{
        Sid       = "AllowReaders"
        Effect    = "Allow"
        Principal = { AWS = var.reader_role_arns }
        Action    = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
        Resource  = "*"
      }],
      each.value.rotation_lambda_role_arn == null ? [] : [{
        Sid       = "AllowRotationLambda"
        Effect    = "Allow"
        Principal = { AWS = each.value.rotation_lambda_role_arn }
        Action = [
          "secretsmanager:DescribeSecret",
          "secretsmanager:GetSecretValue",
          "secretsmanager:PutSecretValue",
          "secretsmanager:UpdateSecretVersionStage",
        ]
        Resource = "*"
      }],
      # With nobody to exempt, the deny is unconditional.
      length(local.value_readers[each.key]) > 0 ? [] : [{
        Sid       = "DenyValueToEveryone"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = "secretsmanager:GetSecretValue"
        Resource  = "*"
      }],
      length(local.value_readers[each.key]) == 0 ? [] : [{
        Sid       = "DenyValueToEveryoneElse"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = "secretsmanager:GetSecretValue"
        Resource  = "*"
        Condition = { StringNotEquals = { "aws:PrincipalArn" = local.value_readers[each.key] } }
      }],
    )
  })
}

# The Lambda also needs a resource-based permission letting secretsmanager.amazonaws.com
# invoke it; that belongs with the Lambda, not here.
resource "aws_secretsmanager_secret_rotation" "this" {
  #checkov:skip=CKV_AWS_304:rotation_days is validated to 1-90 days in variables.tf; checkov cannot resolve the per-secret for_each value.
  for_each = local.rotated_secrets

  secret_id           = aws_secretsmanager_secret.this[each.key].id
  rotation_lambda_arn = each.value.rotation_lambda_arn

  rotation_rules {
    automatically_after_days = each.value.rotation_days
  }

  # The first rotation runs at once and needs the resource policy to let the Lambda in.
  depends_on = [aws_secretsmanager_secret_policy.this]
}
