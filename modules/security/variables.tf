variable "name" {
  description = "Resource-name prefix such as `ingest-prod`. Required; lowercase letters, digits and hyphens, 3-32 characters, starting with a letter."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,31}$", var.name))
    error_message = "name must be 3-32 lowercase letters, digits or hyphens and start with a letter."
  }
}

variable "tags" {
  description = "Tags merged into every taggable resource (after `Name`). Default `{}`."
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "ID of the VPC the security groups live in (`vpc-` followed by 8 or 17 hex digits). Required."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "alb_ingress_cidrs" {
  description = "IPv4 CIDR blocks allowed to reach the load balancer on ports 80 and 443. Default `[\"0.0.0.0/0\"]` (a public service); at least one valid IPv4 CIDR."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.alb_ingress_cidrs) > 0 && alltrue([for c in var.alb_ingress_cidrs : can(cidrhost(c, 0)) && can(regex("^[0-9.]+/[0-9]+$", c))])
    error_message = "alb_ingress_cidrs must hold at least one valid IPv4 CIDR block such as 203.0.113.0/24."
  }
}

variable "app_port" {
  description = "TCP port nginx listens on in the instances; the load balancer forwards to it. Default `80`; 1-65535, not 22."
  type        = number
  default     = 80

  validation {
    condition     = var.app_port >= 1 && var.app_port <= 65535 && floor(var.app_port) == var.app_port && var.app_port != 22
    error_message = "app_port must be an integer 1-65535 and not 22 (no SSH)."
  }
}

variable "database_port" {
  description = "TCP port of the Aurora MySQL cluster. Default `3306`; 1150-65535."
  type        = number
  default     = 3306

  validation {
    condition     = var.database_port >= 1150 && var.database_port <= 65535 && floor(var.database_port) == var.database_port
    error_message = "database_port must be an integer 1150-65535 (the range RDS accepts)."
  }
}

variable "describe_sg_reference_rules" {
  description = "Whether rules that reference another security group carry a description. Default `true`; set false only for the local emulator (moto drops the description of such rules, which shows as a diff on every plan)."
  type        = bool
  default     = true
}

variable "app_secret_arns" {
  description = "ARNs of the Secrets Manager secrets the instances may read (GetSecretValue, DescribeSecret): exactly these, no wildcards. Default `[]`."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.app_secret_arns : can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@!-]+$", a))])
    error_message = "app_secret_arns must hold full Secrets Manager secret ARNs without wildcards."
  }
}

variable "kms_key_arns" {
  description = "ARNs of the KMS keys the instances may decrypt with, only through Secrets Manager, S3 and SQS (kms:ViaService). Default `[]`; key ARNs, not aliases."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.kms_key_arns : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", a))])
    error_message = "kms_key_arns must hold KMS key ARNs (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }
}

variable "metric_namespace" {
  description = "The only CloudWatch namespace the instances may put metrics into, e.g. `Ingest/prod`. Required; 1-255 characters, not starting with `AWS/`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.metric_namespace)) && !startswith(var.metric_namespace, "AWS/")
    error_message = "metric_namespace must be 1-255 characters of A-Z a-z 0-9 . _ / # : - and must not start with AWS/."
  }
}

variable "log_group_arns" {
  description = "ARNs of the CloudWatch log groups the instances write to (CreateLogStream, PutLogEvents, DescribeLogStreams on the groups and their streams). Default `[]`; ARNs without a trailing `:*`."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.log_group_arns : can(regex("^arn:aws[a-z-]*:logs:[a-z0-9-]+:[0-9]{12}:log-group:[A-Za-z0-9_/.#-]+$", a))])
    error_message = "log_group_arns must hold log group ARNs (arn:aws:logs:REGION:ACCOUNT:log-group:NAME) without wildcards."
  }
}

variable "ingest_bucket_arn" {
  description = "ARN of the ingest S3 bucket the instances read (GetObject, ListBucket). Default `null` (no S3 access)."
  type        = string
  default     = null

  validation {
    condition     = var.ingest_bucket_arn == null || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.ingest_bucket_arn))
    error_message = "ingest_bucket_arn must be a bucket ARN such as arn:aws:s3:::my-bucket."
  }
}

variable "ingest_queue_arn" {
  description = "ARN of the ingest SQS queue the instances consume (ReceiveMessage, DeleteMessage, ChangeMessageVisibility, GetQueueAttributes). Default `null` (no SQS access)."
  type        = string
  default     = null

  validation {
    condition     = var.ingest_queue_arn == null || can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}$", var.ingest_queue_arn))
    error_message = "ingest_queue_arn must be an SQS queue ARN such as arn:aws:sqs:eu-west-1:123456789012:ingest."
  }
}

variable "database_cluster_resource_id" {
  description = "Resource ID of the Aurora cluster (`cluster-XXXX`); when set, the instances may connect with IAM authentication as `database_iam_username`. Default `null` (no rds-db:connect)."
  type        = string
  default     = null

  validation {
    condition     = var.database_cluster_resource_id == null || can(regex("^cluster-[A-Z0-9]+$", var.database_cluster_resource_id))
    error_message = "database_cluster_resource_id must look like cluster-ABCDEFGHIJKLMNOPQRSTUVWXY0."
  }
}

variable "database_iam_username" {
  description = "MySQL user the instances connect as with IAM authentication (only used with `database_cluster_resource_id`). Default `ingest_app`; 1-32 letters, digits or underscores."
  type        = string
  default     = "ingest_app"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]{0,31}$", var.database_iam_username))
    error_message = "database_iam_username must be 1-32 letters, digits or underscores, starting with a letter."
  }
}
