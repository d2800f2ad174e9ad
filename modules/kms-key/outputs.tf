output "arn" {
  description = "ARN of the key: what kms_key_id arguments and IAM policies take."
  value       = aws_kms_key.this.arn
}

output "key_id" {
  description = "ID of the key."
  value       = aws_kms_key.this.key_id
}

output "alias_name" {
  description = "The key's alias, alias/<name>."
  value       = aws_kms_alias.this.name
}

output "policy" {
  description = "The key policy as JSON (administration statement first, then policy_statements); for tests and reviews."
  value       = aws_kms_key.this.policy
}

output "rotation_enabled" {
  description = "Whether KMS rotates the key material yearly (always true)."
  value       = aws_kms_key.this.enable_key_rotation
}

output "deletion_window_in_days" {
  description = "Days a scheduled deletion of the key waits."
  value       = aws_kms_key.this.deletion_window_in_days
}
