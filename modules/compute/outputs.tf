output "asg_names" {
  description = "Map of colour (blue, green) -> Auto Scaling group name."
  value       = { for colour, asg in aws_autoscaling_group.this : colour => asg.name }
}

output "asg_arns" {
  description = "Map of colour (blue, green) -> Auto Scaling group ARN."
  value       = { for colour, asg in aws_autoscaling_group.this : colour => asg.arn }
}

output "launch_template_ids" {
  description = "Map of colour (blue, green) -> launch template ID."
  value       = { for colour, lt in aws_launch_template.this : colour => lt.id }
}

output "launch_template_latest_versions" {
  description = "Map of colour (blue, green) -> latest launch template version; opsctl rolls a colour onto it (Terraform ignores the groups' template version after creation)."
  value       = { for colour, lt in aws_launch_template.this : colour => lt.latest_version }
}

output "log_group_names" {
  description = "Map of log (app, nginx_access, nginx_error, system) -> CloudWatch log group name."
  value       = { for key, group in aws_cloudwatch_log_group.this : key => group.name }
}

output "log_group_arns" {
  description = "ARNs of the instances' log groups (without the :* suffix; append it for log-stream actions in IAM)."
  value       = [for key in sort(keys(aws_cloudwatch_log_group.this)) : aws_cloudwatch_log_group.this[key].arn]
}

output "kms_key_arn" {
  description = "ARN of the module's KMS key (the instances' log groups)."
  value       = module.kms.arn
}
