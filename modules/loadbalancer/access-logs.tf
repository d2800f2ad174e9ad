# S3 bucket receiving the ALB's access logs.

data "aws_caller_identity" "current" {}

locals {
  access_log_bucket_name = "${var.name}-alb-logs-${data.aws_caller_identity.current.account_id}"
  access_log_prefix      = "alb"
  # Versions replaced or expired by the lifecycle rule stay recoverable this long.
  access_log_noncurrent_days = 30
  access_log_objects         = "${module.access_log_bucket.arn}/${local.access_log_prefix}/AWSLogs/${data.aws_caller_identity.current.account_id}/*"
}

# The region's ELB account (a table in the provider; no API call). It fails in regions opened
# since August 2022, which have none.
data "aws_elb_service_account" "this" {
  count = var.access_log_elb_account ? 1 : 0
}

module "access_log_bucket" {
  source = "../s3-bucket"

  bucket_name   = local.access_log_bucket_name
  force_destroy = var.access_log_force_destroy
  tags          = var.tags

  # ALB access-log delivery supports only SSE-S3 (AES256), not SSE-KMS.
  kms_key_arn = null

  lifecycle_rules = [{
    id                                     = "expire-access-logs"
    expiration_days                        = var.access_log_retention_days
    noncurrent_version_expiration_days     = local.access_log_noncurrent_days
    abort_incomplete_multipart_upload_days = 7
  }]

  # Who writes the logs depends on the region (ALB guide, "Enable access logs", step 2): in
  # Regions available before August 2022 (eu-west-1 among them) the region's Elastic Load
  # Balancing account; in Regions opened since, the log-delivery service principal. Both are
  # admitted, so the policy holds wherever the module runs; access_log_elb_account = false where
  # the region has no such account. The child module adds the TLS-only deny after them.
  policy_statements = concat(
    [for account in data.aws_elb_service_account.this : {
      Sid       = "AllowElbAccountLogDelivery"
      Effect    = "Allow"
      Principal = { AWS = account.arn }
      Action    = "s3:PutObject"
      Resource  = local.access_log_objects
    }],
    [{
      Sid       = "AllowElbLogDelivery"
      Effect    = "Allow"
      Principal = { Service = "logdelivery.elasticloadbalancing.amazonaws.com" }
      Action    = "s3:PutObject"
      Resource  = local.access_log_objects
    }],
  )
  enable_tls_only_policy = true
  deny_tls_below_1_2     = false
}

# The bucket's resources used to be declared here; keep their state.






