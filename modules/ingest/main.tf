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

module "ingest_bucket" {
  source = "../s3-bucket"

  bucket_name   = local.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags

  # SSE-KMS with the module key and an S3 bucket key (one data key per bucket, not a KMS call per object).
  kms_key_arn = aws_kms_key.this.arn

  lifecycle_rules = [
    {
      id                                     = "expire-processed-objects"
      expiration_days                        = var.object_expiration_days
      noncurrent_version_expiration_days     = var.noncurrent_version_expiration_days
      abort_incomplete_multipart_upload_days = var.abort_incomplete_multipart_upload_days
    },
    # Expiring a current version leaves a delete marker; once its noncurrent versions are gone
    # the marker is alone and is removed too.
    {
      id                           = "remove-expired-delete-markers"
      expired_object_delete_marker = true
    },
  ]

  enable_tls_only_policy = var.enable_tls_only_policy
  deny_tls_below_1_2     = false
}

# The bucket's resources used to be declared here; keep their state.






