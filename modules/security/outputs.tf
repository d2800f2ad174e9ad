output "alb_security_group_id" {
  description = "ID of the load balancer's security group (80/443 in from `alb_ingress_cidrs`, out only to the app group)."
  value       = aws_security_group.alb.id
}

output "app_security_group_id" {
  description = "ID of the app instances' security group (app port in from the load balancer group only)."
  value       = aws_security_group.app.id
}

output "database_security_group_id" {
  description = "ID of the database security group (MySQL port in from the app group only, no egress)."
  value       = aws_security_group.database.id
}

output "instance_role_arn" {
  description = "ARN of the IAM role the app instances run as."
  value       = aws_iam_role.instance.arn
}

output "instance_role_name" {
  description = "Name of the IAM role the app instances run as."
  value       = aws_iam_role.instance.name
}

output "instance_profile_name" {
  description = "Name of the instance profile wrapping the instance role (for the launch templates)."
  value       = aws_iam_instance_profile.this.name
}

output "rds_monitoring_role_arn" {
  description = "ARN of the role RDS enhanced monitoring publishes metrics with."
  value       = aws_iam_role.rds_monitoring.arn
}
