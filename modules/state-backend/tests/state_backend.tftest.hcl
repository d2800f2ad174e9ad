mock_provider "aws" {
  source = "../testing/aws"
}

variables {
  name = "ingest-test"
}

# The bucket itself is modules/s3-bucket (its tests cover every resource); these assert what this
# module asks of it, through the child module's outputs.
run "secure_defaults" {
  command = plan

  assert {
    condition     = output.bucket_name == "ingest-test-tfstate-123456789012" && module.state_bucket.name == "ingest-test-tfstate-123456789012"
    error_message = "The default bucket name must be <name>-tfstate-<account>."
  }
  assert {
    condition     = module.state_bucket.versioning_status == "Enabled"
    error_message = "Versioning must be Enabled."
  }
  assert {
    condition     = module.kms.rotation_enabled && module.kms.deletion_window_in_days == 30
    error_message = "The state key must rotate and have a 30-day deletion window."
  }
  assert {
    condition     = module.state_bucket.access_log_target == null
    error_message = "No access logging without a target bucket."
  }
}

run "tls_only_policy_on_by_default" {
  command = plan

  assert {
    condition     = module.state_bucket.policy != null
    error_message = "The TLS-only policy must exist by default."
  }
  assert {
    condition = (
      [for s in jsondecode(module.state_bucket.policy).Statement : s.Sid] == ["DenyInsecureTransport", "DenyTlsOlderThan12"] &&
      jsondecode(module.state_bucket.policy).Statement[0].Effect == "Deny" &&
      jsondecode(module.state_bucket.policy).Statement[0].Condition.Bool["aws:SecureTransport"] == "false" &&
      jsondecode(module.state_bucket.policy).Statement[1].Condition.NumericLessThan["s3:TlsVersion"] == "1.2" &&
      toset(jsondecode(module.state_bucket.policy).Statement[0].Resource) == toset([
        "arn:aws:s3:::ingest-test-tfstate-123456789012", "arn:aws:s3:::ingest-test-tfstate-123456789012/*"
      ])
    )
    error_message = "The policy must deny non-TLS and pre-TLS-1.2 requests to the bucket and its objects."
  }
}

run "tls_only_policy_off_for_emulator" {
  command = plan

  variables {
    enable_tls_only_policy = false
  }

  assert {
    condition     = module.state_bucket.policy == null
    error_message = "enable_tls_only_policy = false must drop the bucket policy."
  }
}

run "lifecycle" {
  command = plan

  variables {
    noncurrent_version_expiration_days = 30
  }

  assert {
    condition     = [for r in module.state_bucket.lifecycle_rules : r.noncurrent_version_expiration_days if r.id == "expire-old-state-versions"] == [30]
    error_message = "Noncurrent versions must expire after noncurrent_version_expiration_days."
  }
  assert {
    condition     = [for r in module.state_bucket.lifecycle_rules : r.expired_object_delete_marker if r.id == "expire-old-state-versions"] == [true]
    error_message = "The lock file's lone delete markers must be removed."
  }
  assert {
    condition     = [for r in module.state_bucket.lifecycle_rules : r.abort_incomplete_multipart_upload_days if r.id == "abort-incomplete-multipart-uploads"] == [7]
    error_message = "Incomplete multipart uploads must be aborted after 7 days."
  }
  assert {
    condition     = alltrue([for r in module.state_bucket.lifecycle_rules : r.status == "Enabled"])
    error_message = "Every lifecycle rule must be enabled."
  }
}

run "explicit_name_and_access_logs" {
  command = plan

  variables {
    bucket_name            = "acme-ingest-prod-tfstate"
    access_log_bucket_name = "acme-access-logs"
  }

  assert {
    condition     = module.state_bucket.name == "acme-ingest-prod-tfstate"
    error_message = "An explicit bucket_name must be used."
  }
  assert {
    condition     = module.state_bucket.access_log_target == { target_bucket = "acme-access-logs", target_prefix = "s3-access/tfstate/" }
    error_message = "Access logs must go to the given bucket."
  }
}

run "encryption_uses_module_key" {
  command = apply

  assert {
    condition     = module.state_bucket.sse_algorithm == "aws:kms" && module.state_bucket.kms_key_arn == module.kms.arn
    error_message = "The bucket must be SSE-KMS encrypted with the module's own key."
  }
  assert {
    condition     = output.backend_config.use_lockfile && output.backend_config.kms_key_id == module.kms.arn && output.backend_config.region == "eu-west-1"
    error_message = "backend_config must describe a KMS-encrypted, lockfile-locked backend."
  }
}

run "reject_bucket_name_uppercase" {
  command = plan
  variables {
    bucket_name = "Ingest-State"
  }
  expect_failures = [var.bucket_name]
}

run "reject_bucket_name_dots" {
  command = plan
  variables {
    bucket_name = "ingest.state.bucket"
  }
  expect_failures = [var.bucket_name]
}

run "reject_bucket_name_too_short" {
  command = plan
  variables {
    bucket_name = "ab"
  }
  expect_failures = [var.bucket_name]
}

run "reject_bucket_name_reserved_suffix" {
  command = plan
  variables {
    bucket_name = "ingest-state-s3alias"
  }
  expect_failures = [var.bucket_name]
}

run "reject_noncurrent_days_zero" {
  command = plan
  variables {
    noncurrent_version_expiration_days = 0
  }
  expect_failures = [var.noncurrent_version_expiration_days]
}

run "reject_noncurrent_days_fraction" {
  command = plan
  variables {
    noncurrent_version_expiration_days = 1.5
  }
  expect_failures = [var.noncurrent_version_expiration_days]
}

run "reject_multipart_days" {
  command = plan
  variables {
    abort_incomplete_multipart_upload_days = 0
  }
  expect_failures = [var.abort_incomplete_multipart_upload_days]
}

run "reject_bad_name" {
  command = plan
  variables {
    name = "x"
  }
  expect_failures = [var.name]
}

run "lock_table_for_opsctl" {
  command = plan

  assert {
    condition     = aws_dynamodb_table.lock.name == "ingest-test-opsctl-lock" && aws_dynamodb_table.lock.hash_key == "env" && aws_dynamodb_table.lock.billing_mode == "PAY_PER_REQUEST"
    error_message = "opsctl/lock.py expects the table <name>-opsctl-lock keyed by env, on demand."
  }
  assert {
    condition     = aws_dynamodb_table.lock.server_side_encryption[0].enabled && aws_dynamodb_table.lock.point_in_time_recovery[0].enabled && aws_dynamodb_table.lock.deletion_protection_enabled
    error_message = "The lock table must be encrypted with the state key, recoverable and protected from deletion."
  }
}
