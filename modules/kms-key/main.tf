# One customer-managed KMS key with its alias. The policy always starts with the account
# administration statement (AWS's default key policy: IAM policies in this account decide who
# may use the key); each caller adds the statements its service principals need.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  administration_statement = {
    Sid       = "AccountAdministration"
    Effect    = "Allow"
    Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
    Action    = "kms:*"
    Resource  = "*" # in a key policy, "*" means this key
  }
}

resource "aws_kms_key" "this" {
  description             = var.description
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days

  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = concat([local.administration_statement], var.policy_statements)
  })

  tags = merge({ Name = var.name }, var.tags)
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}
