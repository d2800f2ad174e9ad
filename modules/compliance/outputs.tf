output "recorder_name" {
  description = "Name of the AWS Config configuration recorder."
  value       = local.create_recorder ? aws_config_configuration_recorder.this[0].name : var.existing_recorder_name
}

output "delivery_channel_name" {
  description = "Name of the AWS Config delivery channel; null with existing_recorder_name (the existing setup delivers)."
  value       = local.create_recorder ? aws_config_delivery_channel.this[0].name : null
}

output "bucket_name" {
  description = "Name of the bucket receiving Config snapshots and history."
  value       = module.config_bucket.name
}

output "bucket_arn" {
  description = "ARN of the bucket receiving Config snapshots and history."
  value       = module.config_bucket.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the Config deliveries."
  value       = module.kms.arn
}

output "role_arn" {
  description = "ARN of the IAM role AWS Config records and delivers with."
  value       = aws_iam_role.this.arn
}

output "rule_names" {
  description = "Names of the Config rules, keyed like `rules`."
  value       = { for key, rule in aws_config_config_rule.this : key => rule.name }
}

output "rule_arns" {
  description = "ARNs of the Config rules, keyed like `rules`."
  value       = { for key, rule in aws_config_config_rule.this : key => rule.arn }
}
