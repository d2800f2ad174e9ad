variable "name" {
  description = "Prefix for every resource name, e.g. `ingest-prod`. Required; 3-32 characters of lowercase letters, digits and hyphens, starting with a letter."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "tags" {
  description = "Tags merged into every taggable resource (after `Name`). Default `{}`."
  type        = map(string)
  default     = {}
}

variable "cidr_block" {
  description = "IPv4 CIDR of the VPC, carved into the subnets (see README for the layout). Default `10.0.0.0/16`; the prefix length must be /16 to /21 so that every public subnet is at least a /27 (the ALB minimum) and it must be a network address (host bits zero)."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition = (
      can(cidrhost(var.cidr_block, 0)) &&
      can(regex("^\\d+\\.\\d+\\.\\d+\\.\\d+/\\d+$", var.cidr_block)) &&
      try(tonumber(split("/", var.cidr_block)[1]) >= 16 && tonumber(split("/", var.cidr_block)[1]) <= 21, false) &&
      try(cidrsubnet(var.cidr_block, 0, 0) == var.cidr_block, false)
    )
    error_message = "cidr_block must be an IPv4 network address with a prefix length from /16 to /21, e.g. 10.0.0.0/16."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread each subnet tier across. Default 3; valid 2-6."
  type        = number
  default     = 3

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 6 && floor(var.az_count) == var.az_count
    error_message = "az_count must be a whole number from 2 to 6."
  }
}

variable "azs" {
  description = "Explicit availability zone names (e.g. [\"eu-west-1a\", \"eu-west-1b\"]). Default null: the first `az_count` zones in state `available`. When set it must hold exactly `az_count` distinct names."
  type        = list(string)
  default     = null

  validation {
    condition = var.azs == null || try(
      length(var.azs) >= 2 && length(var.azs) <= 6 &&
      length(distinct(var.azs)) == length(var.azs) &&
      alltrue([for az in var.azs : can(regex("^[a-z]{2}(-[a-z]+)+-\\d[a-z]$", az))]),
      false
    )
    error_message = "azs must be null or 2-6 distinct availability zone names such as eu-west-1a."
  }
}

variable "nat_mode" {
  description = "NAT gateway layout for the private (app) subnets. Default `per_az` (one NAT gateway per AZ, survives the loss of an AZ); `single` (one shared NAT gateway, cheaper, for non-production)."
  type        = string
  default     = "per_az"

  validation {
    condition     = contains(["per_az", "single"], var.nat_mode)
    error_message = "nat_mode must be \"per_az\" or \"single\"."
  }
}

variable "app_port" {
  description = "TCP port the app instances listen on (nginx), admitted into the private subnets from the VPC by their network ACL. Default 80; valid 1-65535."
  type        = number
  default     = 80

  validation {
    condition     = var.app_port >= 1 && var.app_port <= 65535 && floor(var.app_port) == var.app_port
    error_message = "app_port must be a whole number from 1 to 65535."
  }
}

variable "database_port" {
  description = "TCP port of the database (Aurora MySQL), the only port the database subnets admit, and only from the private (app) subnets. Default 3306; valid 1-65535."
  type        = number
  default     = 3306

  validation {
    condition     = var.database_port >= 1 && var.database_port <= 65535 && floor(var.database_port) == var.database_port
    error_message = "database_port must be a whole number from 1 to 65535."
  }
}

variable "flow_log_retention_days" {
  description = "Days CloudWatch Logs keeps the VPC flow logs. Default 365; valid: one of CloudWatch's allowed values 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the flow-log KMS key is deleted after a destroy. Default 30 (the maximum, safest); valid 7-30."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30 && floor(var.kms_deletion_window_days) == var.kms_deletion_window_days
    error_message = "kms_deletion_window_days must be a whole number from 7 to 30."
  }
}

variable "enable_vpc_endpoints" {
  description = "Create VPC endpoints: an S3 gateway endpoint on the private route tables and an interface endpoint (private DNS, in the private subnets, HTTPS from the VPC) per interface_endpoint_services entry, with the private network ACL rule they need. Default false (they cost per AZ and hour); staging and prod turn them on."
  type        = bool
  default     = false
}

variable "interface_endpoint_services" {
  description = "AWS services that get an interface endpoint when enable_vpc_endpoints is true, by the last part of their service name (com.amazonaws.REGION.NAME). Default: what the instances call: ssm, ssmmessages, ec2messages (Session Manager and Run Command), secretsmanager, logs, monitoring, sqs, sts, kms."
  type        = list(string)
  default     = ["ssm", "ssmmessages", "ec2messages", "secretsmanager", "logs", "monitoring", "sqs", "sts", "kms"]

  validation {
    condition     = alltrue([for s in var.interface_endpoint_services : can(regex("^[a-z0-9][a-z0-9.-]*$", s))]) && length(distinct(var.interface_endpoint_services)) == length(var.interface_endpoint_services)
    error_message = "interface_endpoint_services must be distinct service names such as ssm or secretsmanager (lowercase, no com.amazonaws.REGION. prefix)."
  }

  validation {
    condition     = !contains(var.interface_endpoint_services, "s3")
    error_message = "S3 gets the (free) gateway endpoint; leave s3 out of interface_endpoint_services."
  }
}
