variable "name" {
  description = "Name of the key: the alias becomes alias/<name> and the Name tag <name>. Required; letters, digits, '/', '_' and '-', not starting with aws."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9/_-]{1,250}$", var.name)) && !startswith(var.name, "aws")
    error_message = "name must be 1-250 letters, digits, '/', '_' or '-' and must not start with aws (reserved for AWS-managed keys)."
  }
}

variable "description" {
  description = "Description of the key: what it encrypts. Required, non-empty."
  type        = string

  validation {
    condition     = length(trimspace(var.description)) > 0
    error_message = "description must say what the key encrypts."
  }
}

variable "deletion_window_in_days" {
  description = "Days a scheduled deletion waits before the key is gone (KMS allows 7-30). Default 30, the longest: a deleted key makes everything it encrypted unreadable."
  type        = number
  default     = 30

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30 && floor(var.deletion_window_in_days) == var.deletion_window_in_days
    error_message = "deletion_window_in_days must be a whole number from 7 to 30."
  }
}

variable "policy_statements" {
  description = "Key policy statements added after the account administration statement, as objects with Sid, Effect, Principal, Action, Resource and optional Condition (jsonencode shape). Default [] (administration only). Every statement needs a unique Sid other than AccountAdministration."
  type        = any
  default     = []

  validation {
    condition     = alltrue([for s in var.policy_statements : can(s.Sid) && can(s.Effect) && can(s.Action)])
    error_message = "Each policy statement needs at least Sid, Effect and Action."
  }

  validation {
    condition = (
      length(distinct([for s in var.policy_statements : try(s.Sid, "")])) == length(var.policy_statements) &&
      !contains([for s in var.policy_statements : try(s.Sid, "")], "AccountAdministration")
    )
    error_message = "Statement Sids must be unique and must not be AccountAdministration (the module adds that one)."
  }
}

variable "tags" {
  description = "Tags for the key, merged after Name. Default {}."
  type        = map(string)
  default     = {}
}
