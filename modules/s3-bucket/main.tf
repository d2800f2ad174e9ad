# A private, encrypted, versioned S3 bucket: the block the state-backend, compliance, ingest and
# loadbalancer modules share. Internal building block; callers add what is specific to them
# (KMS key, policy statements, notifications).

data "aws_partition" "current" {}

locals {
  # Built from the name so the bucket policy is known at plan time.
  arn = "arn:${data.aws_partition.current.partition}:s3:::${var.bucket_name}"

  tls_statements = [
    {
      enabled = var.enable_tls_only_policy
      statement = {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [local.arn, "${local.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      }
    },
    {
      enabled = var.enable_tls_only_policy && var.deny_tls_below_1_2
      statement = {
        Sid       = "DenyTlsOlderThan12"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [local.arn, "${local.arn}/*"]
        Condition = { NumericLessThan = { "s3:TlsVersion" = "1.2" } }
      }
    },
  ]

  policy_statements = concat(
    var.policy_json == null ? [] : jsondecode(var.policy_json).Statement,
    [for s in var.policy_statements : s],
    [for s in local.tls_statements : s.statement if s.enabled],
  )
  # Decided from the inputs alone, so the count is known at plan time even when statements are not.
  create_policy = var.enable_tls_only_policy || var.policy_json != null || length(var.policy_statements) > 0
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Access logging is on when access_log_bucket_name is given (aws_s3_bucket_logging below). Callers leave it off where the bucket is itself a log or audit destination (ALB access logs, AWS Config history) or its object access is audited with CloudTrail data events, and a bucket cannot log to itself.
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery decision per bucket that no current caller takes: versioning keeps every revision, and the contents are regional operational data, transient input or a Config history that an organisation-level archive covers.
  #checkov:skip=CKV2_AWS_62:Event notifications belong to the caller: the ingest module attaches its own aws_s3_bucket_notification to this bucket; the state, Config and ALB-log buckets have no consumers of object events.
  #checkov:skip=CKV_AWS_145:SSE-KMS with the caller's key is used whenever kms_key_arn is set, and every caller but one sets it; the ALB access-log caller passes null because ALB log delivery only supports SSE-S3 (AES256).
  bucket        = var.bucket_name
  force_destroy = var.force_destroy

  tags = merge({ Name = var.bucket_name }, var.tags)
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = var.versioning_enabled ? "Enabled" : "Suspended"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn != null ? "aws:kms" : "AES256"
      kms_master_key_id = var.kms_key_arn
    }
    # One data key per bucket instead of one KMS call per object (SSE-KMS only).
    bucket_key_enabled = var.kms_key_arn != null ? true : null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  dynamic "rule" {
    for_each = var.lifecycle_rules

    content {
      id     = rule.value.id
      status = "Enabled"

      filter {}

      dynamic "expiration" {
        for_each = rule.value.expiration_days != null || rule.value.expired_object_delete_marker ? [rule.value] : []

        content {
          days                         = expiration.value.expiration_days
          expired_object_delete_marker = expiration.value.expired_object_delete_marker ? true : null
        }
      }

      dynamic "noncurrent_version_expiration" {
        for_each = rule.value.noncurrent_version_expiration_days != null ? [rule.value.noncurrent_version_expiration_days] : []

        content {
          noncurrent_days = noncurrent_version_expiration.value
        }
      }

      dynamic "abort_incomplete_multipart_upload" {
        for_each = rule.value.abort_incomplete_multipart_upload_days != null ? [rule.value.abort_incomplete_multipart_upload_days] : []

        content {
          days_after_initiation = abort_incomplete_multipart_upload.value
        }
      }
    }
  }

  # Noncurrent-version rules need versioning, so it is configured first.
  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_policy" "this" {
  count = local.create_policy ? 1 : 0

  bucket = aws_s3_bucket.this.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = local.policy_statements
  })

  # A policy put before the public access block could be judged public and refused.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_logging" "this" {
  count = var.access_log_bucket_name != null ? 1 : 0

  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_log_bucket_name
  target_prefix = var.access_log_prefix
}
