output "name" {
  description = "Name of the bucket (also its ID)."
  value       = aws_s3_bucket.this.bucket
}

output "arn" {
  description = "ARN of the bucket."
  value       = aws_s3_bucket.this.arn
}

output "versioning_status" {
  description = "Versioning status of the bucket (`Enabled` or `Suspended`)."
  value       = aws_s3_bucket_versioning.this.versioning_configuration[0].status
}

output "sse_algorithm" {
  description = "Default encryption of the bucket: `aws:kms` (with kms_key_arn) or `AES256`."
  value       = one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default[0].sse_algorithm
}

output "policy" {
  description = "The bucket policy document (JSON), or null when the bucket has none."
  value       = one(aws_s3_bucket_policy.this[*].policy)
}

output "kms_key_arn" {
  description = "ARN of the KMS key of the default encryption, or null with SSE-S3."
  value       = one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default[0].kms_master_key_id
}

output "lifecycle_rules" {
  description = "The lifecycle rules as configured, in order: `id`, `status`, `expiration_days`, `expired_object_delete_marker`, `noncurrent_version_expiration_days`, `abort_incomplete_multipart_upload_days` (null where a rule has no such action)."
  value = [for r in aws_s3_bucket_lifecycle_configuration.this.rule : {
    id                                     = r.id
    status                                 = r.status
    expiration_days                        = try(r.expiration[0].days, null)
    expired_object_delete_marker           = try(r.expiration[0].expired_object_delete_marker, null)
    noncurrent_version_expiration_days     = try(r.noncurrent_version_expiration[0].noncurrent_days, null)
    abort_incomplete_multipart_upload_days = try(r.abort_incomplete_multipart_upload[0].days_after_initiation, null)
  }]
}

output "access_log_target" {
  description = "Where S3 server access logs go (`target_bucket`, `target_prefix`), or null without access logging."
  value = one([for l in aws_s3_bucket_logging.this : {
    target_bucket = l.target_bucket
    target_prefix = l.target_prefix
  }])
}
