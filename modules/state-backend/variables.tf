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

variable "bucket_name" {
  description = "Name of the state bucket. Default null: `<name>-tfstate-<account id>` (globally unique per account). Valid: 3-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit (no dots: they break virtual-hosted TLS), not starting with `xn--` or `sthree-`, not ending with `-s3alias` or `--ol-s3`."
  type        = string
  default     = null

  validation {
    condition = var.bucket_name == null || try(
      can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", var.bucket_name)) &&
      !startswith(var.bucket_name, "xn--") &&
      !startswith(var.bucket_name, "sthree-") &&
      !endswith(var.bucket_name, "-s3alias") &&
      !endswith(var.bucket_name, "--ol-s3"),
      false
    )
    error_message = "bucket_name must be 3-63 lowercase letters, digits and hyphens, start and end with a letter or digit, and not use the reserved prefixes xn--/sthree- or suffixes -s3alias/--ol-s3."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which a superseded state version (and the lock file's old versions) is deleted. Default 90; valid 1-3650."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && var.noncurrent_version_expiration_days <= 3650 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number from 1 to 3650."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which incomplete multipart uploads are aborted and their parts deleted. Default 7; valid 1-365."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1 && var.abort_incomplete_multipart_upload_days <= 365 && floor(var.abort_incomplete_multipart_upload_days) == var.abort_incomplete_multipart_upload_days
    error_message = "abort_incomplete_multipart_upload_days must be a whole number from 1 to 365."
  }
}

variable "enable_tls_only_policy" {
  description = "Attach a bucket policy denying any request without TLS (aws:SecureTransport false) or below TLS 1.2. Default true; set false only for the local emulator (moto denies every object call under a bucket policy with conditions, which breaks the S3 backend)."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket with all state versions in it. Default false (destroy fails while state exists); true only for throw-away environments."
  type        = bool
  default     = false
}

variable "access_log_bucket_name" {
  description = "Existing bucket receiving S3 server access logs for the state bucket (it must accept log delivery from logging.s3.amazonaws.com). Default null: no access logging. Valid: an S3 bucket name."
  type        = string
  default     = null

  validation {
    condition     = var.access_log_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket_name))
    error_message = "access_log_bucket_name must be null or a valid S3 bucket name."
  }
}

variable "access_log_prefix" {
  description = "Key prefix of the access logs in `access_log_bucket_name`. Default `s3-access/tfstate/`; must end with `/`."
  type        = string
  default     = "s3-access/tfstate/"

  validation {
    condition     = endswith(var.access_log_prefix, "/") && length(var.access_log_prefix) <= 512
    error_message = "access_log_prefix must end with / and be at most 512 characters."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the state KMS key is deleted after a destroy (state encrypted with it is unreadable afterwards). Default 30 (the maximum, safest); valid 7-30."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30 && floor(var.kms_deletion_window_days) == var.kms_deletion_window_days
    error_message = "kms_deletion_window_days must be a whole number from 7 to 30."
  }
}
