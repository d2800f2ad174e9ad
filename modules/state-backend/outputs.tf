output "bucket_name" {
  description = "Name of the state bucket (the S3 backend's `bucket`)."
  value       = module.state_bucket.name
}

output "bucket_arn" {
  description = "ARN of the state bucket."
  value       = module.state_bucket.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the state (the S3 backend's `kms_key_id`)."
  value       = module.kms.arn
}

output "kms_key_alias" {
  description = "Alias of the state KMS key (`alias/<name>-tfstate`)."
  value       = module.kms.alias_name
}

output "backend_config" {
  description = "Settings for an S3 backend using this bucket with native locking (add `key = \"<env>/terraform.tfstate\"`)."
  value = {
    bucket       = module.state_bucket.name
    region       = data.aws_region.current.id
    encrypt      = true
    kms_key_id   = module.kms.arn
    use_lockfile = true
  }
}

output "lock_table_name" {
  description = "Name of opsctl's environment-lock table (`<name>-opsctl-lock`), read by opsctl/lock.py."
  value       = aws_dynamodb_table.lock.name
}

output "lock_table_arn" {
  description = "ARN of opsctl's environment-lock table (for IAM policies: GetItem, PutItem, UpdateItem)."
  value       = aws_dynamodb_table.lock.arn
}
