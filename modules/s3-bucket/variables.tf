variable "bucket_name" {
  description = "Name of the bucket. Required; the caller builds it (usually `<name>-<purpose>-<account id>`). Valid: 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit."
  }
}

variable "tags" {
  description = "Tags of the bucket (after `Name`, which is the bucket name). Default `{}`."
  type        = map(string)
  default     = {}
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket with every object version in it. Default false; true only for throw-away environments."
  type        = bool
  default     = false
}

variable "versioning_enabled" {
  description = "Keep every object version (status `Enabled`); false suspends versioning (`Suspended`). Default true."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "ARN of the KMS key for SSE-KMS default encryption (with an S3 bucket key). Required, no default: pass null only where the writer cannot use SSE-KMS (ALB access-log delivery), which gives SSE-S3 (AES256)."
  type        = string

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be null or a KMS key (or alias) ARN."
  }
}

variable "lifecycle_rules" {
  description = <<-EOT
    Lifecycle rules, applied in this order to every object (empty filter), all enabled. Each: `id` (unique), and any of
    `expiration_days` (current versions expire), `expired_object_delete_marker` (remove delete markers left alone; not
    together with `expiration_days`), `noncurrent_version_expiration_days`, `abort_incomplete_multipart_upload_days`.
    Default: noncurrent versions expire after 90 days, incomplete multipart uploads are aborted after 7.
  EOT
  type = list(object({
    id                                     = string
    expiration_days                        = optional(number)
    expired_object_delete_marker           = optional(bool, false)
    noncurrent_version_expiration_days     = optional(number)
    abort_incomplete_multipart_upload_days = optional(number)
  }))
  default = [
    { id = "expire-noncurrent-versions", noncurrent_version_expiration_days = 90 },
    { id = "abort-incomplete-multipart-uploads", abort_incomplete_multipart_upload_days = 7 },
  ]

  validation {
    condition     = length(var.lifecycle_rules) >= 1 && length(distinct([for r in var.lifecycle_rules : r.id])) == length(var.lifecycle_rules)
    error_message = "lifecycle_rules needs at least one rule, and rule ids must be unique."
  }
  validation {
    condition = alltrue([for r in var.lifecycle_rules :
      r.expiration_days != null || r.expired_object_delete_marker || r.noncurrent_version_expiration_days != null || r.abort_incomplete_multipart_upload_days != null
    ])
    error_message = "Every lifecycle rule needs at least one action."
  }
  validation {
    condition     = alltrue([for r in var.lifecycle_rules : !(r.expiration_days != null && r.expired_object_delete_marker)])
    error_message = "A lifecycle rule cannot set both expiration_days and expired_object_delete_marker (S3 rejects it); use two rules."
  }
  validation {
    condition = alltrue(flatten([for r in var.lifecycle_rules : [
      for d in [r.expiration_days, r.noncurrent_version_expiration_days, r.abort_incomplete_multipart_upload_days] :
      d == null ? true : (d >= 1 && d <= 36500 && floor(d) == d)
    ]]))
    error_message = "Lifecycle day counts must be whole numbers from 1 to 36500."
  }
}

variable "policy_json" {
  description = "A bucket policy document (JSON, e.g. `data.aws_iam_policy_document.x.json`) whose `Statement` list goes into the bucket policy before the TLS-only statements. Default null."
  type        = string
  default     = null

  validation {
    condition     = var.policy_json == null || can(tolist(jsondecode(var.policy_json).Statement))
    error_message = "policy_json must be a policy document with a Statement list."
  }
}

variable "policy_statements" {
  description = "Bucket policy statements (a list of objects as written for `jsonencode`, each with `Sid`, `Effect`, `Principal`, `Action`, `Resource`, optional `Condition`), added after those of `policy_json`. Default `[]`."
  type        = any
  default     = []

  validation {
    condition     = can(length(var.policy_statements)) && can([for s in var.policy_statements : s.Effect])
    error_message = "policy_statements must be a list of statement objects, each with an Effect."
  }
}

variable "enable_tls_only_policy" {
  description = "Add the statement denying every request without TLS (aws:SecureTransport false) to the bucket policy. Default true; set false only for the local emulator (moto denies every object call under a bucket policy with conditions)."
  type        = bool
  default     = true
}

variable "deny_tls_below_1_2" {
  description = "With `enable_tls_only_policy`, also deny requests made with TLS older than 1.2 (s3:TlsVersion). Default true."
  type        = bool
  default     = true
}

variable "access_log_bucket_name" {
  description = "Existing bucket receiving S3 server access logs for this bucket (it must accept log delivery from logging.s3.amazonaws.com). Default null: no access logging."
  type        = string
  default     = null

  validation {
    condition     = var.access_log_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket_name))
    error_message = "access_log_bucket_name must be null or a valid S3 bucket name."
  }
}

variable "access_log_prefix" {
  description = "Key prefix of the access logs in `access_log_bucket_name`. Default `s3-access/`; must end with `/`."
  type        = string
  default     = "s3-access/"

  validation {
    condition     = endswith(var.access_log_prefix, "/") && length(var.access_log_prefix) <= 512
    error_message = "access_log_prefix must end with / and be at most 512 characters."
  }
}
