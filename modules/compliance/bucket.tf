################################################################################
# The encrypted bucket AWS Config delivers snapshots and history to
################################################################################

locals {
  bucket_name = coalesce(var.bucket_name, "${var.name}-config-${local.account_id}")
  # Built from the name so the policies are known at plan time.
  bucket_arn = "arn:${local.partition}:s3:::${local.bucket_name}"
  # Config writes under AWSLogs/<account id>/Config/ (no key prefix is set on the delivery channel).
  delivery_objects_arn = "${local.bucket_arn}/AWSLogs/${local.account_id}/Config/*"
}

module "kms" {
  source = "../kms-key"

  name                    = "${var.name}-config"
  description             = "${var.name}: encrypts AWS Config deliveries to s3://${local.bucket_name}"
  deletion_window_in_days = var.kms_deletion_window_days
  tags                    = var.tags

  policy_statements = [{
    # Needed when Config delivers as its service principal rather than through the
    # recorder role; limited to this account's Config.
    Sid       = "ConfigEncryptsDeliveries"
    Effect    = "Allow"
    Principal = { Service = "config.amazonaws.com" }
    Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
    Resource  = "*"
    Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
  }]
}

moved {
  from = aws_kms_key.this
  to   = module.kms.aws_kms_key.this
}

moved {
  from = aws_kms_alias.this
  to   = module.kms.aws_kms_alias.this
}

module "config_bucket" {
  source = "../s3-bucket"

  bucket_name   = local.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags

  kms_key_arn = module.kms.arn

  lifecycle_rules = [
    {
      id                                 = "expire-noncurrent-versions"
      noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
    },
    {
      id                                     = "abort-incomplete-multipart-uploads"
      abort_incomplete_multipart_upload_days = 7
    },
  ]

  # The statements AWS documents for a Config delivery bucket, each limited to this account's
  # Config (aws:SourceAccount); the child module adds the TLS-only deny after them.
  policy_statements = [
    {
      Sid       = "AWSConfigBucketPermissionsCheck"
      Effect    = "Allow"
      Principal = { Service = "config.amazonaws.com" }
      Action    = "s3:GetBucketAcl"
      Resource  = local.bucket_arn
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    },
    {
      Sid       = "AWSConfigBucketExistenceCheck"
      Effect    = "Allow"
      Principal = { Service = "config.amazonaws.com" }
      Action    = "s3:ListBucket"
      Resource  = local.bucket_arn
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    },
    {
      Sid       = "AWSConfigBucketDelivery"
      Effect    = "Allow"
      Principal = { Service = "config.amazonaws.com" }
      Action    = "s3:PutObject"
      Resource  = local.delivery_objects_arn
      Condition = {
        StringEquals = {
          "s3:x-amz-acl"      = "bucket-owner-full-control"
          "aws:SourceAccount" = local.account_id
        }
      }
    },
  ]
  enable_tls_only_policy = true
  deny_tls_below_1_2     = false
}

# The bucket's resources used to be declared here; keep their state.






