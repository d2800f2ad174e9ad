data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition
  bucket_name = coalesce(var.bucket_name, "${var.name}-tfstate-${local.account_id}")
}

# S3 uses the key on behalf of the caller, so IAM policies in this account decide who may
# read or write state; the key policy is the administration statement alone.
module "kms" {
  source = "../kms-key"

  name                    = "${var.name}-tfstate"
  description             = "${var.name}: encrypts the Terraform state in s3://${local.bucket_name}"
  deletion_window_in_days = var.kms_deletion_window_days
  tags                    = var.tags
}

moved {
  from = aws_kms_key.this
  to   = module.kms.aws_kms_key.this
}

moved {
  from = aws_kms_alias.this
  to   = module.kms.aws_kms_alias.this
}

module "state_bucket" {
  source = "../s3-bucket"

  bucket_name   = local.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags

  kms_key_arn = module.kms.arn

  lifecycle_rules = [
    {
      id                                 = "expire-old-state-versions"
      noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
      # Every lock release leaves a delete marker on the .tflock key; remove the marker once
      # no versions remain behind it.
      expired_object_delete_marker = true
    },
    {
      id                                     = "abort-incomplete-multipart-uploads"
      abort_incomplete_multipart_upload_days = var.abort_incomplete_multipart_upload_days
    },
  ]

  # Denies requests without TLS and below TLS 1.2.
  enable_tls_only_policy = var.enable_tls_only_policy
  deny_tls_below_1_2     = true

  access_log_bucket_name = var.access_log_bucket_name
  access_log_prefix      = var.access_log_prefix
}

# The bucket's resources used to be declared here; keep their state.







