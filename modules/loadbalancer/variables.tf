variable "name" {
  description = "Resource-name prefix, e.g. `ingest-prod`: 3-32 lowercase letters, digits and hyphens, starting with a letter. Required, no default."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "tags" {
  description = "Tags merged into every taggable resource (after Name). Default {}."
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "ID of the VPC the target groups live in (vpc-...). Required, no default."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "subnet_ids" {
  description = "Public subnet IDs the internet-facing ALB spans, one per AZ; at least 2 (an ALB needs two AZs). Required, no default."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2 && length(distinct(var.subnet_ids)) == length(var.subnet_ids)
    error_message = "subnet_ids needs at least 2 distinct subnets (an ALB spans at least two AZs)."
  }

  validation {
    condition     = alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", id))])
    error_message = "Every subnet ID must look like subnet-0123456789abcdef0."
  }
}

variable "security_group_ids" {
  description = "Security groups attached to the ALB (the security module's alb_security_group_id). 1-5 IDs, required, no default."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) >= 1 && length(var.security_group_ids) <= 5
    error_message = "security_group_ids needs 1 to 5 security group IDs."
  }

  validation {
    condition     = alltrue([for id in var.security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", id))])
    error_message = "Every security group ID must look like sg-0123456789abcdef0."
  }
}

variable "certificate_arn" {
  description = "ARN of an existing ACM certificate for the HTTPS listener. Default null. Set exactly one of certificate_arn or domain_name."
  type        = string
  default     = null

  validation {
    condition     = (var.certificate_arn == null) != (var.domain_name == null)
    error_message = "Set exactly one of certificate_arn (an existing certificate) or domain_name (the module requests one)."
  }

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)."
  }
}

variable "domain_name" {
  description = "Domain name for an ACM certificate the module requests with DNS validation, e.g. `ingest.example.com`. Default null. Set exactly one of certificate_arn or domain_name."
  type        = string
  default     = null

  validation {
    condition     = var.domain_name == null || can(regex("^(\\*\\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lowercase DNS name such as ingest.example.com (a leading *. is allowed)."
  }
}

variable "subject_alternative_names" {
  description = "Extra names on the requested certificate (only used with domain_name). Default []."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for n in var.subject_alternative_names : can(regex("^(\\*\\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", n))])
    error_message = "Every subject alternative name must be a lowercase DNS name."
  }
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone ID in which the module writes the certificate's DNS validation records (only with domain_name); it must be known at plan time (a literal or a data source, not a zone created in the same apply). Default null: add the records shown in the certificate_validation_records output yourself; apply waits until the certificate is issued."
  type        = string
  default     = null

  validation {
    condition     = var.route53_zone_id == null || can(regex("^[A-Z0-9]{1,32}$", var.route53_zone_id))
    error_message = "route53_zone_id must be a hosted zone ID (uppercase letters and digits, e.g. Z0123456789ABCDEFGHIJ)."
  }

  validation {
    condition     = var.route53_zone_id == null || var.domain_name != null
    error_message = "route53_zone_id is only used to validate a certificate requested for domain_name; set domain_name too."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener. Default \"ELBSecurityPolicy-TLS13-1-2-2021-06\" (TLS 1.3 and 1.2 only). Valid: an ELBSecurityPolicy-TLS13-1-2-* policy (TLS 1.2 minimum, TLS 1.3 offered)."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = can(regex("^ELBSecurityPolicy-TLS13-1-2-[A-Za-z0-9-]+$", var.ssl_policy))
    error_message = "ssl_policy must be one of the ELBSecurityPolicy-TLS13-1-2-* policies (TLS 1.2 minimum with TLS 1.3)."
  }
}

variable "target_port" {
  description = "Port the instances serve HTTP on (nginx, the security module's app_port). Default 80. Valid: 1-65535."
  type        = number
  default     = 80

  validation {
    condition     = var.target_port >= 1 && var.target_port <= 65535 && floor(var.target_port) == var.target_port
    error_message = "target_port must be an integer from 1 to 65535."
  }
}

variable "health_check_path" {
  description = "HTTP path the target groups probe; healthy means status 200. Default \"/health\". Must start with /."
  type        = string
  default     = "/health"

  validation {
    condition     = can(regex("^/[A-Za-z0-9/._~-]*$", var.health_check_path)) && length(var.health_check_path) <= 1024
    error_message = "health_check_path must start with / and contain only URL path characters (at most 1024)."
  }
}

variable "health_check_interval" {
  description = "Seconds between health checks. Default 15. Valid: 5-300, and greater than health_check_timeout."
  type        = number
  default     = 15

  validation {
    condition     = var.health_check_interval >= 5 && var.health_check_interval <= 300
    error_message = "health_check_interval must be 5-300 seconds."
  }
}

variable "health_check_timeout" {
  description = "Seconds a health check may take. Default 5. Valid: 2-120, less than health_check_interval."
  type        = number
  default     = 5

  validation {
    condition     = var.health_check_timeout >= 2 && var.health_check_timeout <= 120 && var.health_check_timeout < var.health_check_interval
    error_message = "health_check_timeout must be 2-120 seconds and less than health_check_interval."
  }
}

variable "healthy_threshold" {
  description = "Consecutive passing checks before a target counts as healthy. Default 3. Valid: 2-10."
  type        = number
  default     = 3

  validation {
    condition     = var.healthy_threshold >= 2 && var.healthy_threshold <= 10
    error_message = "healthy_threshold must be 2-10."
  }
}

variable "unhealthy_threshold" {
  description = "Consecutive failing checks before a target counts as unhealthy. Default 3. Valid: 2-10."
  type        = number
  default     = 3

  validation {
    condition     = var.unhealthy_threshold >= 2 && var.unhealthy_threshold <= 10
    error_message = "unhealthy_threshold must be 2-10."
  }
}

variable "deregistration_delay" {
  description = "Seconds a deregistering target keeps serving in-flight requests (connection draining). Default 30. Valid: 0-3600."
  type        = number
  default     = 30

  validation {
    condition     = var.deregistration_delay >= 0 && var.deregistration_delay <= 3600
    error_message = "deregistration_delay must be 0-3600 seconds."
  }
}

variable "slow_start" {
  description = "Seconds a new target ramps up before it gets its full share of requests. Default 0 (off). Valid: 0, or 30-900."
  type        = number
  default     = 0

  validation {
    condition     = var.slow_start == 0 || (var.slow_start >= 30 && var.slow_start <= 900)
    error_message = "slow_start must be 0 (off) or 30-900 seconds."
  }
}

variable "stickiness_duration" {
  description = "Duration in seconds of load-balancer cookie (lb_cookie) stickiness on both target groups. Default null (no stickiness). Valid: 1-604800."
  type        = number
  default     = null

  validation {
    condition     = var.stickiness_duration == null ? true : var.stickiness_duration >= 1 && var.stickiness_duration <= 604800
    error_message = "stickiness_duration must be null (off) or 1-604800 seconds (7 days)."
  }
}

variable "idle_timeout" {
  description = "Seconds the ALB keeps an idle connection open. Default 60. Valid: 1-64: it must stay below the instances' keep-alive timeout (nginx, 65 s), or the ALB reuses connections the backend has just closed (HTTP 502)."
  type        = number
  default     = 60

  validation {
    condition     = var.idle_timeout >= 1 && var.idle_timeout <= 64
    error_message = "idle_timeout must be 1-64 seconds (below the instances' 65 s keep-alive)."
  }
}

variable "deletion_protection" {
  description = "Turn on ALB deletion protection. Default true; set false only where the environment is torn down routinely."
  type        = bool
  default     = true
}

variable "access_log_retention_days" {
  description = "Days ALB access logs are kept in the log bucket before they expire. Default 90. Valid: 1-3650."
  type        = number
  default     = 90

  validation {
    condition     = var.access_log_retention_days >= 1 && var.access_log_retention_days <= 3650
    error_message = "access_log_retention_days must be 1-3650."
  }
}

variable "access_log_elb_account" {
  description = "Also admit the region's Elastic Load Balancing account (aws_elb_service_account) to write the access logs, besides the log-delivery service principal: AWS documents that account for Regions available before August 2022, eu-west-1 among them. Default true; set false in a Region opened since, which has no such account (the data source fails there)."
  type        = bool
  default     = true
}

variable "access_log_force_destroy" {
  description = "Let terraform destroy the access-log bucket while it still holds logs. Default false (keep the logs); set true only for throw-away environments."
  type        = bool
  default     = false
}

variable "routing_rules" {
  description = <<-EOT
    Optional host/path rules on the HTTPS listener, evaluated by priority before the default action. Default [].
    Each: priority (1-50000, unique), host_headers and/or path_patterns (at least one value, at most 5 values in total),
    target = "blue" or "green" (pinned to that colour) or "weighted" (follows the blue/green weights, which opsctl owns).
  EOT
  type = list(object({
    priority      = number
    host_headers  = optional(list(string), [])
    path_patterns = optional(list(string), [])
    target        = string
  }))
  default = []

  validation {
    condition     = alltrue([for r in var.routing_rules : contains(["blue", "green", "weighted"], r.target)])
    error_message = "Each routing rule's target must be \"blue\", \"green\" or \"weighted\"."
  }

  validation {
    condition     = alltrue([for r in var.routing_rules : r.priority >= 1 && r.priority <= 50000 && floor(r.priority) == r.priority])
    error_message = "Each routing rule's priority must be an integer from 1 to 50000."
  }

  validation {
    condition     = length(distinct([for r in var.routing_rules : r.priority])) == length(var.routing_rules)
    error_message = "Routing rule priorities must be unique."
  }

  validation {
    condition = alltrue([for r in var.routing_rules :
    length(r.host_headers) + length(r.path_patterns) >= 1 && length(r.host_headers) + length(r.path_patterns) <= 5])
    error_message = "Each routing rule needs 1-5 condition values in total across host_headers and path_patterns."
  }
}

variable "web_acl_arn" {
  description = "ARN of a regional WAFv2 web ACL to associate with the ALB. Default null (no WAF association)."
  type        = string
  default     = null

  validation {
    condition     = var.web_acl_arn == null || can(regex("^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/.+$", var.web_acl_arn))
    error_message = "web_acl_arn must be a regional WAFv2 web ACL ARN (arn:aws:wafv2:REGION:ACCOUNT:regional/webacl/NAME/ID)."
  }
}
