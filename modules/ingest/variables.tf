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

variable "bucket_name" {
  description = "Name of the ingest bucket. Default `null` = `<name>-ingest-<account id>` (globally unique per account); otherwise 3-63 lowercase letters, digits, dots or hyphens."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots or hyphens."
  }
}

variable "force_destroy" {
  description = "Whether destroy empties the bucket (every object version) first. Default `false`; true only for throw-away environments."
  type        = bool
  default     = false
}

variable "object_expiration_days" {
  description = "Days after upload an object expires (it has been processed long before: the queue keeps messages for at most 14 days). Default `30`; 1-3650."
  type        = number
  default     = 30

  validation {
    condition     = var.object_expiration_days >= 1 && var.object_expiration_days <= 3650 && floor(var.object_expiration_days) == var.object_expiration_days
    error_message = "object_expiration_days must be a whole number 1-3650."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days an overwritten or deleted object version is kept before it is removed. Default `7`; 1-365."
  type        = number
  default     = 7

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && var.noncurrent_version_expiration_days <= 365 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number 1-365."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which unfinished multipart uploads are aborted (their parts cost storage). Default `1`; 1-365."
  type        = number
  default     = 1

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1 && var.abort_incomplete_multipart_upload_days <= 365 && floor(var.abort_incomplete_multipart_upload_days) == var.abort_incomplete_multipart_upload_days
    error_message = "abort_incomplete_multipart_upload_days must be a whole number 1-365."
  }
}

variable "filter_suffixes" {
  description = "Object-key suffixes that trigger a notification, one queue target per suffix. Default `[\".ndjson\", \".csv\", \".jsonl\"]`; `[]` notifies on every object. Each 1-64 characters, none a suffix of another (S3 rejects overlapping filters)."
  type        = list(string)
  default     = [".ndjson", ".csv", ".jsonl"]

  validation {
    condition     = alltrue([for s in var.filter_suffixes : length(s) >= 1 && length(s) <= 64]) && length(distinct(var.filter_suffixes)) == length(var.filter_suffixes)
    error_message = "filter_suffixes must be distinct strings of 1-64 characters."
  }
  validation {
    condition = alltrue(flatten([for a in var.filter_suffixes : [
      for b in var.filter_suffixes : a == b || !endswith(a, b)
    ]]))
    error_message = "No suffix in filter_suffixes may end with another one (S3 rejects overlapping notification filters)."
  }
}

variable "visibility_timeout_seconds" {
  description = "Seconds a received message stays hidden from other workers; longer than the worker's slowest file. Default `300`; 0-43200."
  type        = number
  default     = 300

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200 && floor(var.visibility_timeout_seconds) == var.visibility_timeout_seconds
    error_message = "visibility_timeout_seconds must be a whole number 0-43200."
  }
}

variable "receive_wait_time_seconds" {
  description = "Long-polling wait of ReceiveMessage in seconds. Default `20` (the maximum: fewest empty receives); 0-20."
  type        = number
  default     = 20

  validation {
    condition     = var.receive_wait_time_seconds >= 0 && var.receive_wait_time_seconds <= 20 && floor(var.receive_wait_time_seconds) == var.receive_wait_time_seconds
    error_message = "receive_wait_time_seconds must be a whole number 0-20."
  }
}

variable "message_retention_seconds" {
  description = "Seconds the main queue keeps a message. Default `345600` (4 days); 60-1209600."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600 && floor(var.message_retention_seconds) == var.message_retention_seconds
    error_message = "message_retention_seconds must be a whole number 60-1209600."
  }
}

variable "dlq_message_retention_seconds" {
  description = "Seconds the dead-letter queue keeps a message; longer than the main queue's, as SQS keeps the original enqueue time. Default `1209600` (14 days, the maximum); 60-1209600."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600 && floor(var.dlq_message_retention_seconds) == var.dlq_message_retention_seconds
    error_message = "dlq_message_retention_seconds must be a whole number 60-1209600."
  }
}

variable "max_receive_count" {
  description = "Receives after which a message moves to the dead-letter queue. Default `5`; 1-1000."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number 1-1000."
  }
}

variable "enable_tls_only_policy" {
  description = "Whether the bucket policy denies every request not made over TLS. Default `true`; set false only for the local emulator (moto denies every object call under a bucket policy with conditions)."
  type        = bool
  default     = true
}

variable "enable_redrive_allow_policy" {
  description = "Whether the dead-letter queue accepts messages only from the ingest queue (RedriveAllowPolicy byQueue). Default `true`; set false only for the local emulator (moto does not know RedriveAllowPolicy and hangs)."
  type        = bool
  default     = true
}

variable "kms_deletion_window_in_days" {
  description = "Waiting period before the module's KMS key is deleted after destroy. Default `30`; 7-30."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_in_days >= 7 && var.kms_deletion_window_in_days <= 30 && floor(var.kms_deletion_window_in_days) == var.kms_deletion_window_in_days
    error_message = "kms_deletion_window_in_days must be a whole number 7-30."
  }
}
