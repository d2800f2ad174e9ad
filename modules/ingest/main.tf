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

# Uploaders and the workers use the key through IAM policies (the administration statement); the
# only service principal is S3, which must encrypt the notifications it sends to the queue.
module "kms" {
  source = "../kms-key"

  name                    = "${var.name}-ingest"
  description             = "Encrypts the ${var.name} ingest bucket and queues"
  deletion_window_in_days = var.kms_deletion_window_in_days
  tags                    = var.tags

  policy_statements = [{
    Sid       = "S3NotificationsFromTheIngestBucket"
    Effect    = "Allow"
    Principal = { Service = "s3.amazonaws.com" }
    Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
    Resource  = "*"
    Condition = {
      ArnEquals    = { "aws:SourceArn" = local.bucket_arn }
      StringEquals = { "aws:SourceAccount" = local.account_id }
    }
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

# --- bucket ----------------------------------------------------------------------------

module "ingest_bucket" {
  source = "../s3-bucket"

  bucket_name   = local.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags

  # SSE-KMS with the module key and an S3 bucket key (one data key per bucket, not a KMS call per object).
  kms_key_arn = module.kms.arn

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






