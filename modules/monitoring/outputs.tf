output "sns_topic_arn" {
  description = "ARN of the KMS-encrypted alarm topic (alarms, Auto Scaling notifications, budget alerts)."
  value       = aws_sns_topic.this.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the alarm topic."
  value       = module.kms.arn
}

output "alarm_names" {
  description = "Map of alarm key (alb-5xx, high-latency, unhealthy-hosts-blue, ..., dead-jobs) to CloudWatch alarm name."
  value       = local.alarm_names
}

output "deployment_alarm_names" {
  description = "Names of the alarms opsctl watches while a new colour bakes: ALB 5xx rate, p99 latency, unhealthy hosts of both colours."
  value       = [for key in local.deployment_alarm_keys : local.alarm_names[key]]
}

output "colour_alarm_names" {
  description = "Map of colour (blue, green) to the names of its own alarms, with its target group's dimensions: 5xx rate, p99 latency, unhealthy hosts. opsctl watches the baking colour's."
  value       = { for colour, keys in local.colour_alarm_keys : colour => [for key in keys : local.alarm_names[key]] }
}

output "job_alarm_names" {
  description = "Names of the job alarms (dead jobs, dead-letter queue) opsctl watches during every deployment."
  value       = [for key in local.job_alarm_keys : local.alarm_names[key]]
}

output "deployment_alarm_name" {
  description = "Name of the composite alarm over deployment_alarm_names, or null when create_composite_alarm is false."
  value       = var.create_composite_alarm ? aws_cloudwatch_composite_alarm.deployment_health[0].alarm_name : null
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "budget_name" {
  description = "Name of the monthly cost budget, or null when create_budget is false."
  value       = var.create_budget ? aws_budgets_budget.this[0].name : null
}
