output "cluster_identifier" {
  description = "Cluster identifier (the monitoring module's db_cluster_identifier)."
  value       = aws_rds_cluster.this.cluster_identifier
}

output "cluster_arn" {
  description = "ARN of the Aurora cluster."
  value       = aws_rds_cluster.this.arn
}

output "cluster_resource_id" {
  description = "Cluster resource ID (cluster-...), the resource part of rds-db:connect ARNs for IAM database authentication."
  value       = aws_rds_cluster.this.cluster_resource_id
}

output "endpoint" {
  description = "Writer endpoint host name."
  value       = aws_rds_cluster.this.endpoint
}

output "reader_endpoint" {
  description = "Reader endpoint host name (load-balanced over the readers)."
  value       = aws_rds_cluster.this.reader_endpoint
}

output "port" {
  description = "Port the cluster listens on (3306)."
  value       = aws_rds_cluster.this.port
}

output "database_name" {
  description = "Name of the schema created with the cluster."
  value       = aws_rds_cluster.this.database_name
}

output "master_user_secret_arn" {
  description = "ARN of the Secrets Manager secret RDS keeps the master user credentials in (the ARN only, never the value)."
  value       = one(aws_rds_cluster.this.master_user_secret[*].secret_arn)
}

output "kms_key_arn" {
  description = "ARN of the module's KMS key (storage, Performance Insights, master secret, exported logs); readers of the master secret need kms:Decrypt on it."
  value       = module.kms.arn
}

output "instance_identifiers" {
  description = "Identifiers of the cluster instances, in creation order (which one is the writer can change on failover)."
  value       = aws_rds_cluster_instance.this[*].identifier
}

output "log_group_names" {
  description = "Map of exported log type -> CloudWatch log group name."
  value       = { for type, group in aws_cloudwatch_log_group.exports : type => group.name }
}
