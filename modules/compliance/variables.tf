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

variable "delivery_frequency" {
  description = "How often AWS Config delivers a configuration snapshot to the bucket. Default `TwentyFour_Hours`; valid `One_Hour`, `Three_Hours`, `Six_Hours`, `Twelve_Hours`, `TwentyFour_Hours`."
  type        = string
  default     = "TwentyFour_Hours"

  validation {
    condition     = contains(["One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"], var.delivery_frequency)
    error_message = "delivery_frequency must be One_Hour, Three_Hours, Six_Hours, Twelve_Hours or TwentyFour_Hours."
  }
}

variable "include_global_resource_types" {
  description = "Record global resources (IAM users, roles, policies). Default true; set false in every region but one when the account records several regions, so global resources are recorded once."
  type        = bool
  default     = true
}

variable "rules" {
  description = "AWS managed Config rules, keyed by a short rule name (lowercase letters, digits, hyphens; the rule is named `<name>-<key>`). Each value: `source_identifier` (the managed rule identifier, upper-case letters, digits and underscores, e.g. `ENCRYPTED_VOLUMES`), optional `input_parameters` (map of the rule's parameters), optional `description`, optional `maximum_execution_frequency` (periodic rules only: One_Hour, Three_Hours, Six_Hours, Twelve_Hours, TwentyFour_Hours). Default: encrypted EBS volumes, RDS storage/cluster encryption, RDS instance and cluster deletion protection, RDS not public, restricted SSH, S3 public read/bucket-level public access prohibited, S3 SSE and TLS-only, IMDSv2, VPC flow logs, the default security group closed, encrypted CloudWatch log groups, ALB HTTP-to-HTTPS redirect, root MFA and no root access keys."
  type = map(object({
    source_identifier           = string
    input_parameters            = optional(map(string), {})
    description                 = optional(string)
    maximum_execution_frequency = optional(string)
  }))
  default = {
    encrypted-volumes                        = { source_identifier = "ENCRYPTED_VOLUMES", description = "EBS volumes attached to instances are encrypted." }
    rds-storage-encrypted                    = { source_identifier = "RDS_STORAGE_ENCRYPTED", description = "RDS DB instances have storage encryption enabled." }
    rds-cluster-encrypted-at-rest            = { source_identifier = "RDS_CLUSTER_ENCRYPTED_AT_REST", description = "RDS (Aurora) clusters are encrypted at rest." }
    rds-instance-deletion-protection-enabled = { source_identifier = "RDS_INSTANCE_DELETION_PROTECTION_ENABLED", description = "RDS DB instances have deletion protection." }
    rds-cluster-deletion-protection-enabled  = { source_identifier = "RDS_CLUSTER_DELETION_PROTECTION_ENABLED", description = "RDS (Aurora) clusters have deletion protection." }
    rds-instance-public-access-check         = { source_identifier = "RDS_INSTANCE_PUBLIC_ACCESS_CHECK", description = "RDS DB instances are not publicly accessible." }
    restricted-ssh                           = { source_identifier = "INCOMING_SSH_DISABLED", description = "No security group admits SSH (22) from 0.0.0.0/0." }
    s3-bucket-public-read-prohibited         = { source_identifier = "S3_BUCKET_PUBLIC_READ_PROHIBITED", description = "S3 buckets do not allow public read access." }
    s3-bucket-level-public-access-prohibited = { source_identifier = "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED", description = "S3 buckets block public access at bucket level." }
    s3-bucket-server-side-encryption-enabled = { source_identifier = "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED", description = "S3 buckets have default encryption." }
    s3-bucket-ssl-requests-only              = { source_identifier = "S3_BUCKET_SSL_REQUESTS_ONLY", description = "S3 bucket policies deny requests without TLS." }
    ec2-imdsv2-check                         = { source_identifier = "EC2_IMDSV2_CHECK", description = "EC2 instances require IMDSv2." }
    vpc-flow-logs-enabled                    = { source_identifier = "VPC_FLOW_LOGS_ENABLED", description = "Every VPC has flow logs." }
    vpc-default-security-group-closed        = { source_identifier = "VPC_DEFAULT_SECURITY_GROUP_CLOSED", description = "Default security groups have no rules." }
    cloudwatch-log-group-encrypted           = { source_identifier = "CLOUDWATCH_LOG_GROUP_ENCRYPTED", description = "CloudWatch log groups are encrypted with KMS." }
    alb-http-to-https-redirection-check      = { source_identifier = "ALB_HTTP_TO_HTTPS_REDIRECTION_CHECK", description = "ALB HTTP listeners redirect to HTTPS." }
    root-account-mfa-enabled                 = { source_identifier = "ROOT_ACCOUNT_MFA_ENABLED", description = "The root user has MFA." }
    iam-root-access-key-check                = { source_identifier = "IAM_ROOT_ACCESS_KEY_CHECK", description = "The root user has no access keys." }
  }

  validation {
    condition     = alltrue([for key, rule in var.rules : can(regex("^[a-z0-9][a-z0-9-]{0,62}$", key))])
    error_message = "Every rules key must be 1-63 lowercase letters, digits and hyphens, starting with a letter or digit."
  }
  validation {
    condition     = alltrue([for rule in var.rules : can(regex("^[A-Z][A-Z0-9_]{2,127}$", rule.source_identifier))])
    error_message = "Every source_identifier must be an AWS managed rule identifier: upper-case letters, digits and underscores, e.g. ENCRYPTED_VOLUMES."
  }
  validation {
    condition = alltrue([
      for rule in var.rules : rule.maximum_execution_frequency == null || contains(["One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"], coalesce(rule.maximum_execution_frequency, "TwentyFour_Hours"))
    ])
    error_message = "maximum_execution_frequency must be null or One_Hour, Three_Hours, Six_Hours, Twelve_Hours or TwentyFour_Hours."
  }
}

variable "bucket_name" {
  description = "Name of the bucket receiving Config snapshots and history. Default null: `<name>-config-<account id>`. Valid: 3-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be null or 3-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted objects in the Config bucket are removed for good. Default 90; valid 1-3650."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && var.noncurrent_version_expiration_days <= 3650 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number from 1 to 3650."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the Config bucket with its contents. Default false; true only for throw-away environments."
  type        = bool
  default     = false
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the Config KMS key is deleted after a destroy. Default 30 (the maximum, safest); valid 7-30."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30 && floor(var.kms_deletion_window_days) == var.kms_deletion_window_days
    error_message = "kms_deletion_window_days must be a whole number from 7 to 30."
  }
}

variable "existing_recorder_name" {
  description = "Name of a Config recorder that already records this account and region (Control Tower, organisation Config). Default null: the module creates its own recorder, delivery channel and recorder status. AWS allows one recorder per region, so set it where one exists; the rules then evaluate through it."
  type        = string
  default     = null

  validation {
    condition     = var.existing_recorder_name == null || can(regex("^[A-Za-z0-9_.-]{1,256}$", var.existing_recorder_name))
    error_message = "existing_recorder_name must be 1-256 letters, digits, '.', '_' or '-'."
  }
}
