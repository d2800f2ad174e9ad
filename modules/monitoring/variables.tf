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

variable "alarm_emails" {
  description = "E-mail addresses subscribed to the alarm topic (each must confirm the subscription). Default []."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_emails : can(regex("^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$", e))])
    error_message = "Every alarm e-mail must be a valid address such as oncall@example.com."
  }
}

variable "alarm_https_endpoints" {
  description = "HTTPS URLs (e.g. a paging service's webhook) subscribed to the alarm topic. Default []. Only https:// URLs are accepted."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for u in var.alarm_https_endpoints : can(regex("^https://[^\\s/]+(/\\S*)?$", u))])
    error_message = "Every alarm endpoint must be an https:// URL."
  }
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the ALB (loadbalancer module's alb_arn_suffix, app/NAME/ID). Required, no default."
  type        = string

  validation {
    condition     = can(regex("^app/[A-Za-z0-9-]+/[0-9a-f]+$", var.alb_arn_suffix))
    error_message = "alb_arn_suffix must look like app/NAME/0123456789abcdef."
  }
}

variable "target_group_arn_suffixes" {
  description = "Map with exactly the keys blue and green to the target groups' ARN suffixes (loadbalancer module's target_group_arn_suffixes). Required, no default."
  type        = map(string)

  validation {
    condition     = toset(keys(var.target_group_arn_suffixes)) == toset(["blue", "green"])
    error_message = "target_group_arn_suffixes must have exactly the keys blue and green."
  }

  validation {
    condition     = alltrue([for s in values(var.target_group_arn_suffixes) : can(regex("^targetgroup/[A-Za-z0-9-]+/[0-9a-f]+$", s))])
    error_message = "Every target group ARN suffix must look like targetgroup/NAME/0123456789abcdef."
  }
}

variable "asg_names" {
  description = "Map with exactly the keys blue and green to the Auto Scaling group names (compute module's asg_names). Required, no default."
  type        = map(string)

  validation {
    condition     = toset(keys(var.asg_names)) == toset(["blue", "green"])
    error_message = "asg_names must have exactly the keys blue and green."
  }

  validation {
    condition     = alltrue([for n in values(var.asg_names) : length(n) >= 1 && length(n) <= 255])
    error_message = "Every Auto Scaling group name must be 1-255 characters."
  }
}

variable "db_cluster_identifier" {
  description = "Identifier of the Aurora cluster (database module's cluster_identifier). Required, no default."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,62}$", var.db_cluster_identifier))
    error_message = "db_cluster_identifier must be 1-63 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "queue_name" {
  description = "Name of the ingest SQS queue (ingest module's queue_name). Required, no default."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,80}(\\.fifo)?$", var.queue_name))
    error_message = "queue_name must be an SQS queue name (1-80 letters, digits, - and _; optional .fifo)."
  }
}

variable "dlq_name" {
  description = "Name of the ingest dead-letter queue (ingest module's dlq_name). Required, no default."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,80}(\\.fifo)?$", var.dlq_name))
    error_message = "dlq_name must be an SQS queue name (1-80 letters, digits, - and _; optional .fifo)."
  }
}

variable "metric_namespace" {
  description = "CloudWatch namespace of the app's custom metrics (QueueDepth, DeadJobs), e.g. `Ingest/prod`. Required, no default. Must not start with AWS/."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_./#:-]{1,255}$", var.metric_namespace)) && !startswith(var.metric_namespace, "AWS/")
    error_message = "metric_namespace must be 1-255 characters of letters, digits and _./#:- and must not start with AWS/."
  }
}

variable "app_metric_dimensions" {
  description = "Dimensions the service attaches to its QueueDepth and DeadJobs metrics (must match what it emits exactly; CloudWatch matches the full dimension set). Default {} (no dimensions)."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(var.app_metric_dimensions) <= 30
    error_message = "CloudWatch allows at most 30 dimensions."
  }
}

variable "thresholds" {
  description = <<-EOT
    Alarm thresholds; omitted fields keep their default.
    alb_5xx_rate_percent (5; greater than 0, below 100): target + ELB 5xx as a percentage of requests.
    latency_p99_seconds (1; >0, <=60): target response time p99.
    unhealthy_hosts (0; >=0): alarm when more unhealthy targets than this in a colour.
    asg_cpu_percent (80), aurora_cpu_percent (80), aurora_acu_percent (90): 1-100.
    aurora_connections (400; >=1): DatabaseConnections on any instance.
    aurora_replica_lag_ms (1000; >=1): AuroraReplicaLag of the readers.
    queue_oldest_message_seconds (900; 60-1209600): age of the oldest ingest message.
    dlq_messages (0; >=0): alarm when more messages than this wait in the DLQ.
    dead_jobs (0; >=0): alarm when the app reports more dead jobs than this.
  EOT
  type = object({
    alb_5xx_rate_percent         = optional(number, 5)
    latency_p99_seconds          = optional(number, 1)
    unhealthy_hosts              = optional(number, 0)
    asg_cpu_percent              = optional(number, 80)
    aurora_cpu_percent           = optional(number, 80)
    aurora_acu_percent           = optional(number, 90)
    aurora_connections           = optional(number, 400)
    aurora_replica_lag_ms        = optional(number, 1000)
    queue_oldest_message_seconds = optional(number, 900)
    dlq_messages                 = optional(number, 0)
    dead_jobs                    = optional(number, 0)
  })
  default = {}

  validation {
    condition     = var.thresholds.alb_5xx_rate_percent > 0 && var.thresholds.alb_5xx_rate_percent < 100
    error_message = "thresholds.alb_5xx_rate_percent must be greater than 0 and less than 100."
  }

  validation {
    condition     = var.thresholds.latency_p99_seconds > 0 && var.thresholds.latency_p99_seconds <= 60
    error_message = "thresholds.latency_p99_seconds must be greater than 0 and at most 60."
  }

  validation {
    condition = alltrue([for v in [var.thresholds.asg_cpu_percent, var.thresholds.aurora_cpu_percent, var.thresholds.aurora_acu_percent] :
    v >= 1 && v <= 100])
    error_message = "thresholds.asg_cpu_percent, aurora_cpu_percent and aurora_acu_percent must be 1-100."
  }

  validation {
    condition     = var.thresholds.aurora_connections >= 1 && var.thresholds.aurora_replica_lag_ms >= 1
    error_message = "thresholds.aurora_connections and aurora_replica_lag_ms must be at least 1."
  }

  validation {
    condition     = var.thresholds.queue_oldest_message_seconds >= 60 && var.thresholds.queue_oldest_message_seconds <= 1209600
    error_message = "thresholds.queue_oldest_message_seconds must be 60-1209600 (SQS keeps messages at most 14 days)."
  }

  validation {
    condition     = var.thresholds.unhealthy_hosts >= 0 && var.thresholds.dlq_messages >= 0 && var.thresholds.dead_jobs >= 0
    error_message = "thresholds.unhealthy_hosts, dlq_messages and dead_jobs must not be negative."
  }
}

variable "create_composite_alarm" {
  description = "Create the composite alarm NAME-deployment-health over the deployment alarms (opsctl watches it during a bake). Default true; set false only for the local emulator (moto lacks PutCompositeAlarm)."
  type        = bool
  default     = true
}

variable "enable_asg_notifications" {
  description = "Send both colours' Auto Scaling launch/terminate events (and their errors) to the alarm topic. Default true; set false only for the local emulator (moto lacks PutNotificationConfiguration)."
  type        = bool
  default     = true
}

variable "create_budget" {
  description = "Create the monthly AWS Budgets cost budget with notifications to the alarm topic. Default true; set false only for the local emulator (moto lacks the Budgets read calls)."
  type        = bool
  default     = true
}

variable "budget_limit_usd" {
  description = "Monthly cost budget for the whole account in USD. Default 500. Valid: greater than 0, at most 1000000."
  type        = number
  default     = 500

  validation {
    condition     = var.budget_limit_usd > 0 && var.budget_limit_usd <= 1000000
    error_message = "budget_limit_usd must be greater than 0 and at most 1000000."
  }
}

variable "kms_key_deletion_window_days" {
  description = "Waiting period before the topic's KMS key is deleted after destroy. Default 30. Valid: 7-30."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_days >= 7 && var.kms_key_deletion_window_days <= 30
    error_message = "kms_key_deletion_window_days must be 7-30."
  }
}
