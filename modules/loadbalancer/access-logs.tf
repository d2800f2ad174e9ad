# S3 bucket receiving the ALB's access logs.

data "aws_caller_identity" "current" {}

locals {
  access_log_bucket_name = "${var.name}-alb-logs-${data.aws_caller_identity.current.account_id}"
  access_log_prefix      = "alb"
  # Versions replaced or expired by the lifecycle rule stay recoverable this long.
  access_log_noncurrent_days = 30
}

resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_145:ALB access-log delivery supports only SSE-S3 (AES256), not SSE-KMS.
  #checkov:skip=CKV_AWS_18:This bucket is itself a log destination; logging its access to another bucket is left to an account-wide logging setup.
  #checkov:skip=CKV_AWS_144:Access logs are regional operational data kept for access_log_retention_days; cross-region replication is not warranted.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events for new log objects; ELB writes them every 5 minutes.
  bucket        = local.access_log_bucket_name
  force_destroy = var.access_log_force_destroy

  tags = merge({ Name = local.access_log_bucket_name }, var.tags)
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_log_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = local.access_log_noncurrent_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

data "aws_iam_policy_document" "access_logs" {
  # The ELB log-delivery service principal works in every commercial region, including those
  # opened since August 2022 that have no regional ELB account (aws_elb_service_account fails there).
  statement {
    sid     = "AllowElbLogDelivery"
    effect  = "Allow"
    actions = ["s3:PutObject"]
    resources = [
      "${aws_s3_bucket.access_logs.arn}/${local.access_log_prefix}/AWSLogs/${data.aws_caller_identity.current.account_id}/*",
    ]

    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.access_logs.arn, "${aws_s3_bucket.access_logs.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = data.aws_iam_policy_document.access_logs.json

  # S3 rejects a policy while the public access block is still being applied.
  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}
