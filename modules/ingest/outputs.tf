output "bucket_name" {
  description = "Name of the ingest bucket."
  value       = module.ingest_bucket.name
}

output "bucket_arn" {
  description = "ARN of the ingest bucket (give it to the security module's `ingest_bucket_arn`)."
  value       = module.ingest_bucket.arn
}

output "queue_url" {
  description = "URL of the queue the workers consume."
  value       = aws_sqs_queue.this.url
}

output "queue_arn" {
  description = "ARN of the queue the workers consume (give it to the security module's `ingest_queue_arn`)."
  value       = aws_sqs_queue.this.arn
}

output "queue_name" {
  description = "Name of the queue the workers consume (for CloudWatch alarms)."
  value       = aws_sqs_queue.this.name
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_name" {
  description = "Name of the dead-letter queue (for CloudWatch alarms)."
  value       = aws_sqs_queue.dlq.name
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the bucket and queues (give it to the security module's `kms_key_arns`)."
  value       = module.kms.arn
}
