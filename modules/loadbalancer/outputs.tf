output "alb_arn" {
  description = "ARN of the application load balancer."
  value       = aws_lb.this.arn
}

output "alb_arn_suffix" {
  description = "ARN suffix of the ALB (app/NAME/ID), the LoadBalancer dimension of its CloudWatch metrics."
  value       = aws_lb.this.arn_suffix
}

output "alb_dns_name" {
  description = "DNS name of the ALB; point an alias record at it."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "Route 53 hosted zone ID of the ALB, for alias records."
  value       = aws_lb.this.zone_id
}

output "http_listener_arn" {
  description = "ARN of the port-80 listener (redirects to HTTPS with 301)."
  value       = aws_lb_listener.http.arn
}

output "https_listener_arn" {
  description = "ARN of the port-443 listener whose weighted forward action opsctl manages."
  value       = aws_lb_listener.https.arn
}

output "target_group_arns" {
  description = "Map of colour (blue, green) to target group ARN."
  value       = { for colour, tg in aws_lb_target_group.this : colour => tg.arn }
}

output "target_group_arn_suffixes" {
  description = "Map of colour (blue, green) to target group ARN suffix, the TargetGroup dimension of its CloudWatch metrics."
  value       = { for colour, tg in aws_lb_target_group.this : colour => tg.arn_suffix }
}

output "target_group_names" {
  description = "Map of colour (blue, green) to target group name."
  value       = { for colour, tg in aws_lb_target_group.this : colour => tg.name }
}

output "weighted_rule_arns" {
  description = "ARNs of the routing rules with target \"weighted\": opsctl must set their weights together with the listener's default action."
  value       = [for rule in aws_lb_listener_rule.weighted : rule.arn]
}

output "certificate_arn" {
  description = "ARN of the certificate on the HTTPS listener (the given one, or the one this module requested)."
  value       = local.certificate_arn
}

output "certificate_validation_records" {
  description = "DNS records (name, type, value) that validate the requested certificate; add them yourself when route53_zone_id is null. Empty with certificate_arn."
  value = [for o in local.validation_options : {
    name  = o.resource_record_name
    type  = o.resource_record_type
    value = o.resource_record_value
  }]
}

output "access_log_bucket_name" {
  description = "Name of the S3 bucket holding the ALB access logs (under the alb/ prefix)."
  value       = module.access_log_bucket.name
}
