variable "name" {
  description = "Name prefix of every resource and the cluster identifier (e.g. ingest-prod). Required; 3-32 characters: lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen (RDS identifier rules)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name)) && !strcontains(var.name, "--")
    error_message = "name must be 3-32 characters of lowercase letters, digits and single hyphens, start with a letter and not end with a hyphen."
  }
}

variable "tags" {
  description = "Tags merged into every taggable resource (after Name). Default {}."
  type        = map(string)
  default     = {}
}

variable "subnet_ids" {
  description = "Database subnet IDs (subnet-...) for the DB subnet group, in at least two Availability Zones. Required; at least 2."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2 && alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "subnet_ids needs at least two subnet IDs (subnet-...)."
  }
}

variable "security_group_ids" {
  description = "Security group IDs (sg-...) attached to the cluster; the security module's database group admits 3306 from the app only. Required; at least 1."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) >= 1 && alltrue([for id in var.security_group_ids : can(regex("^sg-[0-9a-f]+$", id))])
    error_message = "security_group_ids needs at least one security group ID (sg-...)."
  }
}

variable "availability_zones" {
  description = "Availability Zones to spread the instances over, instance i in availability_zones[i % length]; pass the network module's azs so the writer and the readers sit in different AZs. Default [] leaves placement to RDS (which does not promise a spread)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for az in var.availability_zones : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9][a-z]$", az))])
    error_message = "availability_zones must be AZ names such as eu-west-1a."
  }
}

variable "engine_version" {
  description = "Aurora MySQL 8.0 engine version (8.0.mysql_aurora.3.x.y). Default 8.0.mysql_aurora.3.08.2. Used when the cluster is created; RDS applies minor upgrades itself afterwards (see README)."
  type        = string
  default     = "8.0.mysql_aurora.3.08.2"

  validation {
    condition     = can(regex("^8\\.0\\.mysql_aurora\\.3\\.[0-9]{2}\\.[0-9]+$", var.engine_version))
    error_message = "engine_version must look like 8.0.mysql_aurora.3.08.2 (Aurora MySQL 3, MySQL 8.0 compatible)."
  }
}

variable "database_name" {
  description = "Name of the schema created with the cluster. Default ingest; a letter then up to 63 letters, digits or underscores."
  type        = string
  default     = "ingest"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]{0,63}$", var.database_name))
    error_message = "database_name must start with a letter and hold at most 64 letters, digits or underscores."
  }
}

variable "master_username" {
  description = "Master user name; its password is generated and kept by RDS in Secrets Manager. Default ingest_admin; a letter then up to 15 letters, digits or underscores (not rdsadmin, which RDS reserves)."
  type        = string
  default     = "ingest_admin"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]{0,15}$", var.master_username)) && lower(var.master_username) != "rdsadmin"
    error_message = "master_username must be 1-16 letters, digits or underscores starting with a letter, and not rdsadmin (reserved by RDS)."
  }
}

variable "min_capacity" {
  description = "Minimum Aurora capacity units (ACU) per instance. Default 0.5; 0-256 in steps of 0.5. 0 lets idle instances pause (see seconds_until_auto_pause)."
  type        = number
  default     = 0.5

  validation {
    condition     = var.min_capacity >= 0 && var.min_capacity <= 256 && floor(var.min_capacity * 2) == var.min_capacity * 2
    error_message = "min_capacity must be between 0 and 256 in steps of 0.5."
  }
}

variable "max_capacity" {
  description = "Maximum Aurora capacity units (ACU) per instance. Default 8; 1-256 in steps of 0.5, and not below min_capacity."
  type        = number
  default     = 8

  validation {
    condition     = var.max_capacity >= 1 && var.max_capacity <= 256 && floor(var.max_capacity * 2) == var.max_capacity * 2
    error_message = "max_capacity must be between 1 and 256 in steps of 0.5."
  }
}

variable "seconds_until_auto_pause" {
  description = "Idle seconds before an instance pauses; used only when min_capacity is 0. Default 300; 300-86400."
  type        = number
  default     = 300

  validation {
    condition     = var.seconds_until_auto_pause >= 300 && var.seconds_until_auto_pause <= 86400 && floor(var.seconds_until_auto_pause) == var.seconds_until_auto_pause
    error_message = "seconds_until_auto_pause must be a whole number between 300 and 86400."
  }
}

variable "instance_count" {
  description = "Number of db.serverless instances: one writer plus readers (failover targets). Default 2; 1-16 (1 has no failover target: use it only for throw-away environments)."
  type        = number
  default     = 2

  validation {
    condition     = var.instance_count >= 1 && var.instance_count <= 16 && floor(var.instance_count) == var.instance_count
    error_message = "instance_count must be a whole number between 1 and 16."
  }
}

variable "backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery). Default 7; 1-35."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 1 && var.backup_retention_days <= 35 && floor(var.backup_retention_days) == var.backup_retention_days
    error_message = "backup_retention_days must be a whole number between 1 and 35."
  }
}

variable "preferred_backup_window" {
  description = "Daily backup window in UTC, hh24:mi-hh24:mi, at least 30 minutes and not overlapping the maintenance window. Default 02:00-03:00."
  type        = string
  default     = "02:00-03:00"

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$", var.preferred_backup_window))
    error_message = "preferred_backup_window must look like 02:00-03:00 (UTC)."
  }
}

variable "preferred_maintenance_window" {
  description = "Weekly maintenance window in UTC, ddd:hh24:mi-ddd:hh24:mi. Default sun:04:00-sun:05:00."
  type        = string
  default     = "sun:04:00-sun:05:00"

  validation {
    condition     = can(regex("^(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]-(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]$", var.preferred_maintenance_window))
    error_message = "preferred_maintenance_window must look like sun:04:00-sun:05:00 (UTC)."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the cluster while true. Default true; set false only to tear an environment down."
  type        = bool
  default     = true
}

variable "skip_final_snapshot" {
  description = "Delete the cluster without a final snapshot (named <name>-final-<creation time> otherwise). Default false; true only for throw-away environments."
  type        = bool
  default     = false
}

variable "apply_immediately" {
  description = "Apply modifications now instead of in the next maintenance window. Default false."
  type        = bool
  default     = false
}

variable "monitoring_interval" {
  description = "Enhanced Monitoring interval in seconds, 0 to turn it off. Default 60; one of 0, 1, 5, 10, 15, 30, 60. Needs monitoring_role_arn when not 0."
  type        = number
  default     = 60

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.monitoring_interval)
    error_message = "monitoring_interval must be one of 0, 1, 5, 10, 15, 30, 60."
  }
}

variable "monitoring_role_arn" {
  description = "ARN of the IAM role RDS Enhanced Monitoring publishes with (the security module's rds_monitoring_role_arn). Default null; required when monitoring_interval is not 0."
  type        = string
  default     = null

  validation {
    condition     = var.monitoring_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.monitoring_role_arn))
    error_message = "monitoring_role_arn must be an IAM role ARN."
  }
}

variable "enabled_cloudwatch_logs_exports" {
  description = "Log types exported to CloudWatch Logs (each to /aws/rds/cluster/<name>/<type>, created here with KMS and retention). Default [\"audit\", \"error\", \"slowquery\"]; any of audit, error, general, slowquery."
  type        = list(string)
  default     = ["audit", "error", "slowquery"]

  validation {
    condition     = alltrue([for t in var.enabled_cloudwatch_logs_exports : contains(["audit", "error", "general", "slowquery"], t)])
    error_message = "enabled_cloudwatch_logs_exports may hold only audit, error, general and slowquery."
  }
}

variable "log_retention_days" {
  description = "Retention of the exported log groups in days. Default 365; one of the CloudWatch Logs values 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the CloudWatch Logs retention values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "performance_insights_enabled" {
  description = "Turn on Performance Insights (encrypted with the module's key) on every instance. Default true; set false only for the local emulator (moto does not store Performance Insights settings: a diff on every plan)."
  type        = bool
  default     = true
}

variable "performance_insights_retention_days" {
  description = "Performance Insights retention in days. Default 7 (the free tier); 7, 731 or a multiple of 31 up to 713."
  type        = number
  default     = 7

  validation {
    condition     = contains([7, 731], var.performance_insights_retention_days) || (var.performance_insights_retention_days >= 31 && var.performance_insights_retention_days <= 713 && var.performance_insights_retention_days % 31 == 0)
    error_message = "performance_insights_retention_days must be 7, 731 or a multiple of 31 up to 713."
  }
}

variable "enable_custom_parameters" {
  description = "Create and use the module's cluster and instance parameter groups (utf8mb4, TLS only, slow query log, audit log, binlog). Default true; set false only for the local emulator (moto returns parameters without Source: a diff on every plan); the RDS default groups are used then."
  type        = bool
  default     = true
}

variable "long_query_time" {
  description = "Seconds after which a statement lands in the slow query log. Default 1; 0-3600."
  type        = number
  default     = 1

  validation {
    condition     = var.long_query_time >= 0 && var.long_query_time <= 3600
    error_message = "long_query_time must be between 0 and 3600 seconds."
  }
}

variable "enable_binlog" {
  description = "Turn on the binary log (binlog_format ROW) for replication or change data capture; changing it reboots on the next maintenance. Default false (the binlog costs write throughput and nothing reads it)."
  type        = bool
  default     = false
}

variable "enable_master_password_rotation" {
  description = "Put a rotation schedule on the RDS-managed master user secret. Default true; set false only for the local emulator (moto cannot delete such a schedule, so destroy fails). RDS-managed secrets rotate without a Lambda."
  type        = bool
  default     = true
}

variable "master_password_rotation_days" {
  description = "Days between rotations of the master user password. Default 7; 1-365."
  type        = number
  default     = 7

  validation {
    condition     = var.master_password_rotation_days >= 1 && var.master_password_rotation_days <= 365 && floor(var.master_password_rotation_days) == var.master_password_rotation_days
    error_message = "master_password_rotation_days must be a whole number between 1 and 365."
  }
}

variable "backtrack_window_hours" {
  description = "Hours the cluster can be rewound in place with Aurora backtrack (undoes a bad migration or DELETE in minutes, no restore). Default 0 (off): AWS has rejected backtrack on some Aurora MySQL 3 versions, it bills change-record storage, and it rules out binlog replication. 0-72. Takes effect only when the cluster is created."
  type        = number
  default     = 0

  validation {
    condition     = var.backtrack_window_hours >= 0 && var.backtrack_window_hours <= 72 && floor(var.backtrack_window_hours) == var.backtrack_window_hours
    error_message = "backtrack_window_hours must be a whole number between 0 and 72."
  }
}
