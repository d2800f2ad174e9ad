# opsctl's environment lock (opsctl/lock.py): one item per environment, written only with
# conditional writes (compare-and-set on its revision), carrying the fencing token. Terraform's
# own state lock is the S3 lockfile; this table is not a Terraform lock table.
resource "aws_dynamodb_table" "lock" {
  name         = "${var.name}-opsctl-lock"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "env"

  attribute {
    name = "env"
    type = "S"
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = module.kms.arn
  }

  point_in_time_recovery {
    enabled = true
  }

  deletion_protection_enabled = !var.force_destroy

  tags = merge({ Name = "${var.name}-opsctl-lock" }, var.tags)
}
