# Secrets, their key and their resource policies, against a mocked AWS provider.

mock_provider "aws" {
  source = "../testing/aws"

  mock_resource "aws_secretsmanager_secret" {
    defaults = {
      arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ingest-test/mocked-AbCdEf"
    }
  }
}

variables {
  name = "ingest-test"
  secrets = {
    api-keys = {
      description              = "API keys clients present to the ingestion API"
      rotation_lambda_arn      = "arn:aws:lambda:eu-west-1:123456789012:function:rotate-api-keys"
      rotation_lambda_role_arn = "arn:aws:iam::123456789012:role/rotate-api-keys"
      rotation_days            = 14
    }
    partner-credentials = {
      description = "Credentials for the partner's upload API"
    }
  }
  reader_role_arns = ["arn:aws:iam::123456789012:role/ingest-test-instance"]
  admin_role_arns  = ["arn:aws:iam::123456789012:role/break-glass"]
  tags             = { Environment = "test" }
}

run "secrets_are_named_and_encrypted_with_the_module_key" {
  command = apply

  assert {
    condition     = toset([for s in aws_secretsmanager_secret.this : s.name]) == toset(["ingest-test/api-keys", "ingest-test/partner-credentials"])
    error_message = "Secrets must be named <name>/<key>."
  }
  assert {
    condition     = alltrue([for s in aws_secretsmanager_secret.this : s.kms_key_id == module.kms.arn])
    error_message = "Every secret must be encrypted with the module's KMS key."
  }
  assert {
    condition     = module.kms.rotation_enabled && module.kms.alias_name == "alias/ingest-test-secrets"
    error_message = "The key must rotate and carry the module alias."
  }
  assert {
    condition     = alltrue([for s in aws_secretsmanager_secret.this : s.recovery_window_in_days == 30 && s.tags.Environment == "test"])
    error_message = "Secrets keep the 30-day recovery window and the given tags by default."
  }
  assert {
    condition     = output.kms_key_arn == module.kms.arn
    error_message = "kms_key_arn must be the module key."
  }
}

run "key_policy_admits_root_and_readers_only_through_secrets_manager" {
  command = plan

  assert {
    condition     = { for s in jsondecode(module.kms.policy).Statement : s.Sid => s.Principal }["AccountAdministration"] == { AWS = "arn:aws:iam::123456789012:root" }
    error_message = "The key policy must delegate to the account's IAM policies."
  }
  assert {
    condition = ({ for s in jsondecode(module.kms.policy).Statement : s.Sid => s }["DecryptForReadersViaSecretsManager"]
      == {
        Sid       = "DecryptForReadersViaSecretsManager"
        Effect    = "Allow"
        Principal = { AWS = ["arn:aws:iam::123456789012:role/ingest-test-instance"] }
        Action    = ["kms:Decrypt", "kms:DescribeKey"]
        Resource  = "*"
        Condition = { StringEquals = {
          "kms:ViaService"    = "secretsmanager.eu-west-1.amazonaws.com"
          "kms:CallerAccount" = "123456789012"
        } }
    })
    error_message = "Readers may decrypt only through Secrets Manager in this account."
  }
  assert {
    condition     = { for s in jsondecode(module.kms.policy).Statement : s.Sid => s.Principal }["RotateViaSecretsManager"] == { AWS = ["arn:aws:iam::123456789012:role/rotate-api-keys"] }
    error_message = "Only the rotation Lambda roles get GenerateDataKey."
  }
}

run "resource_policy_admits_exactly_the_readers" {
  command = plan

  assert {
    condition     = alltrue([for p in aws_secretsmanager_secret_policy.this : p.block_public_policy])
    error_message = "Every secret policy must block public policies."
  }
  assert {
    condition = ({ for s in jsondecode(aws_secretsmanager_secret_policy.this["partner-credentials"].policy).Statement : s.Sid => s.Principal }["AllowReaders"]
    == { AWS = ["arn:aws:iam::123456789012:role/ingest-test-instance"] })
    error_message = "The policy must allow exactly the reader roles."
  }
  assert {
    condition = ({ for s in jsondecode(aws_secretsmanager_secret_policy.this["partner-credentials"].policy).Statement : s.Sid => s }["DenyValueToEveryoneElse"]
      == {
        Sid       = "DenyValueToEveryoneElse"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = "secretsmanager:GetSecretValue"
        Resource  = "*"
        Condition = { StringNotEquals = { "aws:PrincipalArn" = [
          "arn:aws:iam::123456789012:role/ingest-test-instance",
          "arn:aws:iam::123456789012:role/break-glass",
        ] } }
    })
    error_message = "Everyone but the readers and admins must be denied GetSecretValue."
  }
  assert {
    condition = ([for s in jsondecode(aws_secretsmanager_secret_policy.this["partner-credentials"].policy).Statement : s.Sid]
    == ["AllowReaders", "DenyValueToEveryoneElse"])
    error_message = "A secret without rotation has no rotation statement."
  }
  assert {
    condition = ({ for s in jsondecode(aws_secretsmanager_secret_policy.this["api-keys"].policy).Statement : s.Sid => s }["DenyValueToEveryoneElse"].Condition.StringNotEquals["aws:PrincipalArn"]
      == [
        "arn:aws:iam::123456789012:role/ingest-test-instance",
        "arn:aws:iam::123456789012:role/rotate-api-keys",
        "arn:aws:iam::123456789012:role/break-glass",
    ])
    error_message = "A rotated secret also lets its own rotation Lambda role through."
  }
  assert {
    condition = ({ for s in jsondecode(aws_secretsmanager_secret_policy.this["api-keys"].policy).Statement : s.Sid => s.Principal }["AllowRotationLambda"]
    == { AWS = "arn:aws:iam::123456789012:role/rotate-api-keys" })
    error_message = "The rotation statement must name the Lambda's role."
  }
}

run "rotation_only_where_a_lambda_is_given" {
  command = plan

  assert {
    condition     = keys(aws_secretsmanager_secret_rotation.this) == ["api-keys"]
    error_message = "Only api-keys has a rotation Lambda."
  }
  assert {
    condition = (aws_secretsmanager_secret_rotation.this["api-keys"].rotation_lambda_arn == "arn:aws:lambda:eu-west-1:123456789012:function:rotate-api-keys"
    && aws_secretsmanager_secret_rotation.this["api-keys"].rotation_rules[0].automatically_after_days == 14)
    error_message = "Rotation must use the given Lambda and schedule."
  }
}

run "outputs_are_arns_and_names_only" {
  command = apply

  assert {
    condition     = keys(output.secret_arns) == ["api-keys", "partner-credentials"]
    error_message = "secret_arns must be keyed by secret key."
  }
  assert {
    condition     = alltrue([for arn in values(output.secret_arns) : can(regex("^arn:aws:secretsmanager:", arn))])
    error_message = "secret_arns must hold ARNs only."
  }
  assert {
    condition     = output.secret_names == { api-keys = "ingest-test/api-keys", partner-credentials = "ingest-test/partner-credentials" }
    error_message = "secret_names must map keys to full names."
  }
}

run "no_readers_means_an_unconditional_deny" {
  command = plan

  variables {
    secrets          = { partner-credentials = { description = "Partner credentials" } }
    reader_role_arns = []
    admin_role_arns  = []
  }

  assert {
    condition = (jsondecode(aws_secretsmanager_secret_policy.this["partner-credentials"].policy).Statement
      == [{
        Sid       = "DenyValueToEveryone"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = "secretsmanager:GetSecretValue"
        Resource  = "*"
    }])
    error_message = "With no readers, nobody may read the value."
  }
  assert {
    condition     = length(jsondecode(module.kms.policy).Statement) == 1
    error_message = "With no readers or rotation, the key policy has only the account statement."
  }
}
