variable "name" {
  description = "Resource-name prefix such as `ingest-prod`; secrets are named `<name>/<key>`. Required; lowercase letters, digits and hyphens, 3-32 characters, starting with a letter."
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

variable "secrets" {
  description = <<-EOT
    Application secrets to create, keyed by short name (e.g. `api-keys`, `partner-credentials`; 2-64 lowercase letters, digits, hyphens, starting with a letter). Default `{}`.
    Each value: `description` (required, 1-2048 characters); `rotation_lambda_arn` (optional Lambda function ARN; rotation is scheduled only when set);
    `rotation_lambda_role_arn` (the execution role of that Lambda, required with it: it is let through the resource policy);
    `rotation_days` (optional, default 30, 1-90). The module never holds secret values: operators put them (see README).
  EOT
  type = map(object({
    description              = string
    rotation_lambda_arn      = optional(string)
    rotation_lambda_role_arn = optional(string)
    rotation_days            = optional(number, 30)
  }))
  default = {}

  validation {
    condition     = alltrue([for k in keys(var.secrets) : can(regex("^[a-z][a-z0-9-]{1,63}$", k))])
    error_message = "Secret keys must be 2-64 lowercase letters, digits or hyphens and start with a letter."
  }
  validation {
    condition     = alltrue([for s in values(var.secrets) : length(s.description) > 0 && length(s.description) <= 2048])
    error_message = "Every secret needs a description of 1-2048 characters."
  }
  validation {
    condition = alltrue([for s in values(var.secrets) :
      s.rotation_lambda_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9_$-]+)?$", s.rotation_lambda_arn))
    ])
    error_message = "rotation_lambda_arn must be a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)."
  }
  validation {
    condition = alltrue([for s in values(var.secrets) :
      (s.rotation_lambda_arn == null) == (s.rotation_lambda_role_arn == null)
      && (s.rotation_lambda_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$", s.rotation_lambda_role_arn)))
    ])
    error_message = "rotation_lambda_role_arn must be given together with rotation_lambda_arn, as an IAM role ARN."
  }
  validation {
    condition     = alltrue([for s in values(var.secrets) : s.rotation_days >= 1 && s.rotation_days <= 90 && floor(s.rotation_days) == s.rotation_days])
    error_message = "rotation_days must be a whole number of days, 1-90."
  }
}

variable "reader_role_arns" {
  description = "IAM role ARNs that may read the secrets (the app's instance role). Required; every other principal is denied GetSecretValue by each secret's resource policy, except `admin_role_arns`. An empty list leaves the values readable by nobody but admins."
  type        = list(string)

  validation {
    condition     = alltrue([for a in var.reader_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$", a))])
    error_message = "reader_role_arns must hold IAM role ARNs (arn:aws:iam::ACCOUNT:role/NAME) without wildcards."
  }
}

variable "admin_role_arns" {
  description = "IAM role ARNs exempt from the GetSecretValue deny (a break-glass or operator role that must be able to read values during an incident). Default `[]`; IAM role ARNs. They still need an IAM policy granting the read."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.admin_role_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$", a))])
    error_message = "admin_role_arns must hold IAM role ARNs (arn:aws:iam::ACCOUNT:role/NAME) without wildcards."
  }
}

variable "recovery_window_in_days" {
  description = "Days a deleted secret can still be restored. Default `30`; 0 (delete at once, for throw-away environments) or 7-30."
  type        = number
  default     = 30

  validation {
    condition     = var.recovery_window_in_days == 0 || (var.recovery_window_in_days >= 7 && var.recovery_window_in_days <= 30 && floor(var.recovery_window_in_days) == var.recovery_window_in_days)
    error_message = "recovery_window_in_days must be 0 or a whole number 7-30."
  }
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
