variable "name" {
  description = "Name prefix of every resource (e.g. ingest-prod). Required; 3-32 characters: lowercase letters, digits and hyphens, starting with a letter."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen."
  }
}

variable "tags" {
  description = "Tags merged into every taggable resource (after Name) and put on the instances and volumes. Default {}. Keys may hold only letters, digits and + - = . _ : @ because instance metadata tags are on."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.tags) : can(regex("^[A-Za-z0-9+=._:@-]{1,128}$", k))])
    error_message = "Tag keys may hold only letters, digits and + - = . _ : @ (instance metadata tags reject spaces and slashes)."
  }
}

variable "environment" {
  description = "Environment name (local, dev, staging, prod, ...), written to the instances as INGEST_ENV and used as the Environment dimension of the app's metrics. Required; a lowercase letter then 1-15 lowercase letters, digits or hyphens."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment must be 2-16 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "subnet_ids" {
  description = "Private (app) subnet IDs the Auto Scaling groups launch into, one per AZ. Required; at least 2."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2 && alltrue([for id in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", id))])
    error_message = "subnet_ids needs at least two subnet IDs (subnet-...) for a multi-AZ group."
  }
}

variable "security_group_ids" {
  description = "Security group IDs (sg-...) of the instances (the security module's app group). Required; at least 1."
  type        = list(string)

  validation {
    condition     = length(var.security_group_ids) >= 1 && alltrue([for id in var.security_group_ids : can(regex("^sg-[0-9a-f]+$", id))])
    error_message = "security_group_ids needs at least one security group ID (sg-...)."
  }
}

variable "instance_profile_name" {
  description = "Name of the instance profile the instances run with (the security module's instance_profile_name). Required."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,128}$", var.instance_profile_name))
    error_message = "instance_profile_name must be 1-128 letters, digits or + = , . @ _ -."
  }
}

variable "ami_id" {
  description = "AMI the launch templates start from (built by packer/). Required; ami- followed by 8 or 17 hex digits. Used at creation only: afterwards opsctl owns each colour's AMI."
  type        = string

  validation {
    condition     = can(regex("^ami-([0-9a-f]{8}|[0-9a-f]{17})$", var.ami_id))
    error_message = "ami_id must be ami- followed by 8 or 17 lowercase hex digits."
  }
}

variable "instance_type" {
  description = "EC2 instance type. Default t3.small; family.size such as t3.small or m7g.large."
  type        = string
  default     = "t3.small"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.instance_type))
    error_message = "instance_type must look like t3.small (family.size, lowercase)."
  }
}

variable "min_size" {
  description = "Initial minimum size of the blue group (green starts at 0). Default 2; 0-100, not above max_size. opsctl owns it after creation."
  type        = number
  default     = 2

  validation {
    condition     = var.min_size >= 0 && var.min_size <= 100 && floor(var.min_size) == var.min_size
    error_message = "min_size must be a whole number between 0 and 100."
  }
}

variable "max_size" {
  description = "Initial maximum size of the blue group (green starts at 0). Default 6; 1-100. opsctl owns it after creation."
  type        = number
  default     = 6

  validation {
    condition     = var.max_size >= 1 && var.max_size <= 100 && floor(var.max_size) == var.max_size
    error_message = "max_size must be a whole number between 1 and 100."
  }
}

variable "desired_capacity" {
  description = "Initial desired capacity of the blue group (green starts at 0). Default 2; between min_size and max_size. opsctl owns it after creation."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_capacity >= 0 && var.desired_capacity <= 100 && floor(var.desired_capacity) == var.desired_capacity
    error_message = "desired_capacity must be a whole number between 0 and 100."
  }
}

variable "target_group_arns" {
  description = "Map with exactly the keys blue and green -> target group ARN (the loadbalancer module's target_group_arns); each colour's group registers with its own target group. Required."
  type        = map(string)

  validation {
    condition     = length(var.target_group_arns) == 2 && alltrue([for c in ["blue", "green"] : contains(keys(var.target_group_arns), c)])
    error_message = "target_group_arns must have exactly the keys blue and green."
  }

  validation {
    condition     = alltrue([for arn in values(var.target_group_arns) : can(regex("^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/.+$", arn))])
    error_message = "target_group_arns values must be ELBv2 target group ARNs."
  }
}

variable "secret_arns" {
  description = "Map of application secret name -> Secrets Manager ARN (the secrets module's secret_arns); each becomes INGEST_<NAME>_SECRET_ARN on the instances (api-keys -> INGEST_API_KEYS_SECRET_ARN). Default {}."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, arn in var.secret_arns : can(regex("^[A-Za-z0-9_-]+$", k)) && can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", arn))])
    error_message = "secret_arns keys must be letters, digits, _ or -, and values Secrets Manager secret ARNs."
  }
}

variable "database_secret_arn" {
  description = "ARN of the secret holding the database credentials (the database module's master_user_secret_arn). Required."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.database_secret_arn))
    error_message = "database_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "database_host" {
  description = "Database writer endpoint host name (the database module's endpoint). Required."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9.-]{1,253}$", var.database_host))
    error_message = "database_host must be a host name."
  }
}

variable "database_port" {
  description = "Database port. Default 3306; 1150-65535 or 3306."
  type        = number
  default     = 3306

  validation {
    condition     = var.database_port == 3306 || (var.database_port >= 1150 && var.database_port <= 65535)
    error_message = "database_port must be 3306 or between 1150 and 65535."
  }
}

variable "database_name" {
  description = "Database schema the app uses (the database module's database_name). Default ingest."
  type        = string
  default     = "ingest"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]{0,63}$", var.database_name))
    error_message = "database_name must start with a letter and hold at most 64 letters, digits or underscores."
  }
}

variable "database_app_user" {
  description = "MySQL user the service (ingest-web, ingest-worker) connects as, with IAM database authentication over TLS; `ingest-service migrate` creates it with DML rights only and keeps the master secret for itself. Must match the security module's `database_iam_username` (its rds-db:connect grant). Default `ingest_app`; 1-32 letters, digits or underscores, starting with a letter."
  type        = string
  default     = "ingest_app"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]{0,31}$", var.database_app_user))
    error_message = "database_app_user must be 1-32 letters, digits or underscores, starting with a letter."
  }
}

variable "queue_url" {
  description = "URL of the ingest SQS queue the worker consumes (the ingest module's queue_url). Required."
  type        = string

  validation {
    condition     = can(regex("^https?://[^[:space:]]+$", var.queue_url))
    error_message = "queue_url must be an http(s) URL without spaces."
  }
}

variable "metric_namespace" {
  description = "CloudWatch namespace of the app's custom metrics (QueueDepth, DeadJobs). Default null = Ingest/<environment>; must not start with AWS/."
  type        = string
  default     = null

  validation {
    condition     = var.metric_namespace == null || (can(regex("^[A-Za-z0-9./#:_-]{1,255}$", var.metric_namespace)) && !startswith(coalesce(var.metric_namespace, "x"), "AWS/"))
    error_message = "metric_namespace must be 1-255 letters, digits or . / # : _ - and not start with AWS/."
  }
}

variable "root_volume_size" {
  description = "Root volume size in GiB (gp3, encrypted). Default 20; 8-1024."
  type        = number
  default     = 20

  validation {
    condition     = var.root_volume_size >= 8 && var.root_volume_size <= 1024 && floor(var.root_volume_size) == var.root_volume_size
    error_message = "root_volume_size must be a whole number of GiB between 8 and 1024."
  }
}

variable "root_device_name" {
  description = "Device name of the AMI's root volume. Default /dev/xvda (Amazon Linux 2023)."
  type        = string
  default     = "/dev/xvda"

  validation {
    condition     = can(regex("^/dev/(xvd|sd|nvme)[a-z0-9]+$", var.root_device_name))
    error_message = "root_device_name must look like /dev/xvda."
  }
}

variable "root_volume_kms_key_arn" {
  description = "Customer managed KMS key ARN for the root volumes. Default null = the account's AWS-managed EBS key (aws/ebs). A customer key must allow the AWSServiceRoleForAutoScaling service-linked role to use it and create grants, or instances fail to launch."
  type        = string
  default     = null

  validation {
    condition     = var.root_volume_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.root_volume_kms_key_arn))
    error_message = "root_volume_kms_key_arn must be a KMS key ARN."
  }
}

variable "log_retention_days" {
  description = "Retention of the instances' log groups in days. Default 365; one of the CloudWatch Logs values 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the CloudWatch Logs retention values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "health_check_grace_period" {
  description = "Seconds after launch before ELB health checks can mark an instance unhealthy. Default 300; 0-7200."
  type        = number
  default     = 300

  validation {
    condition     = var.health_check_grace_period >= 0 && var.health_check_grace_period <= 7200
    error_message = "health_check_grace_period must be between 0 and 7200 seconds."
  }
}

variable "default_instance_warmup" {
  description = "Seconds a new instance warms up before its metrics count for scaling. Default 300; 0-3600, or null to leave it unset. Set null only for the local emulator (moto does not return it: a diff on every plan)."
  type        = number
  default     = 300
  nullable    = true

  validation {
    condition     = var.default_instance_warmup == null || (coalesce(var.default_instance_warmup, 0) >= 0 && coalesce(var.default_instance_warmup, 0) <= 3600)
    error_message = "default_instance_warmup must be null or between 0 and 3600 seconds."
  }
}

variable "wait_for_capacity_timeout" {
  description = "How long Terraform waits for an Auto Scaling group to reach its capacity, as a duration such as 10m; 0 does not wait. Default 10m; set 0 for the local emulator (moto starts no real instances)."
  type        = string
  default     = "10m"

  validation {
    condition     = can(regex("^(0|[0-9]+(s|m|h))$", var.wait_for_capacity_timeout))
    error_message = "wait_for_capacity_timeout must be 0 or a duration such as 30s, 10m or 1h."
  }
}

variable "enable_instance_maintenance_policy" {
  description = "Give the groups an instance maintenance policy that launches a replacement before terminating an instance (min healthy 100 %, max 200 %). Default true; set false only for the local emulator (moto does not return the policy: a diff on every plan)."
  type        = bool
  default     = true
}

variable "create_scaling_policies" {
  description = "Create the target-tracking policies (CPU and queue backlog) on both groups. Default true; set false only for the local emulator (moto does not return a policy's enabled field: a diff on every plan)."
  type        = bool
  default     = true
}

variable "cpu_target" {
  description = "Target average CPU utilisation (percent) of a group. Default 60; 10-90."
  type        = number
  default     = 60

  validation {
    condition     = var.cpu_target >= 10 && var.cpu_target <= 90
    error_message = "cpu_target must be between 10 and 90 percent."
  }
}

variable "queue_depth_target" {
  description = "Target queue backlog per in-service instance (the app's QueueDepth metric divided by the group's instances). Default 100; 1-100000."
  type        = number
  default     = 100

  validation {
    condition     = var.queue_depth_target >= 1 && var.queue_depth_target <= 100000
    error_message = "queue_depth_target must be between 1 and 100000."
  }
}

variable "tag_launch_template" {
  description = "Tag the launch template resources themselves (instances and volumes are always tagged). Default true; set false only for the local emulator (moto echoes a template's own tags back as a tag_specifications block: a new version on every plan)."
  type        = bool
  default     = true
}
