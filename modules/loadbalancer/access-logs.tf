# S3 bucket receiving the ALB's access logs.

data "aws_caller_identity" "current" {}

locals {
  access_log_bucket_name = "${var.name}-alb-logs-${data.aws_caller_identity.current.account_id}"
  access_log_prefix      = "alb"
  # Versions replaced or expired by the lifecycle rule stay recoverable this long.
  access_log_noncurrent_days = 30
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

  # The ELB log-delivery service principal works in every commercial region, including those
  # opened since August 2022 that have no regional ELB account (aws_elb_service_account fails there).
  # The child module adds the TLS-only deny after it.
  policy_statements = [{
    Sid       = "AllowElbLogDelivery"
    Effect    = "Allow"
    Principal = { Service = "logdelivery.elasticloadbalancing.amazonaws.com" }
    Action    = "s3:PutObject"
    Resource  = "${module.access_log_bucket.arn}/${local.access_log_prefix}/AWSLogs/${data.aws_caller_identity.current.account_id}/*"
  }]
  enable_tls_only_policy = true
  deny_tls_below_1_2     = false
}

# The bucket's resources used to be declared here; keep their state.






