# The ingest bucket and the KMS key that encrypts it and its queues. The queues and the
# bucket notification are in queue.tf.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition
  bucket_name = coalesce(var.bucket_name, "${var.name}-ingest-${local.account_id}")
  # Known before the bucket exists, so the key policy does not wait for the bucket.
  bucket_arn = "arn:${local.partition}:s3:::${local.bucket_name}"
}

# --- KMS key ---------------------------------------------------------------------------

resource "aws_kms_key" "this" {
  description             = "Encrypts the ${var.name} ingest bucket and queues"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_in_days

  # Uploaders and the workers use the key through IAM policies (the root statement); the only
  # service principal is S3, which must encrypt the notifications it sends to the queue.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "EnableIamPoliciesInThisAccount"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "S3NotificationsFromTheIngestBucket"
        Effect    = "Allow"
        Principal = { Service = "s3.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
        Condition = {
          ArnEquals    = { "aws:SourceArn" = local.bucket_arn }
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
    ]
  })

  tags = merge({ Name = "${var.name}-ingest" }, var.tags)
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-ingest"
  target_key_id = aws_kms_key.this.key_id
}

# --- bucket ----------------------------------------------------------------------------

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a second bucket per environment; object-level access to this bucket is audited with CloudTrail data events at the account level.
  #checkov:skip=CKV_AWS_144:Transient input: every object is processed within minutes and expires after object_expiration_days; the uploaders keep the originals, so a cross-region copy adds cost, not resilience.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy

  tags = merge({ Name = local.bucket_name }, var.tags)
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
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    # One data key per bucket instead of one KMS call per object.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-processed-objects"
    status = "Enabled"

    filter {}

    expiration {
      days = var.object_expiration_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  # Expiring a current version leaves a delete marker; once its noncurrent versions are gone
  # the marker is alone and is removed too.
  rule {
    id     = "remove-expired-delete-markers"
    status = "Enabled"

    filter {}

    expiration {
      expired_object_delete_marker = true
    }
  }

  # Versioning must be on before S3 accepts noncurrent-version rules.
  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_policy" "tls_only" {
  count = var.enable_tls_only_policy ? 1 : 0

  bucket = aws_s3_bucket.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = { AWS = "*" }
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  # A policy put before the public access block could be judged public and refused.
  depends_on = [aws_s3_bucket_public_access_block.this]
}
