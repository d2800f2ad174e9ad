mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { id = "eu-west-1", name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555" }
  }
}

variables {
  name = "ingest-test"
}

run "secure_defaults" {
  command = plan

  assert {
    condition     = aws_s3_bucket.this.bucket == "ingest-test-tfstate-123456789012" && aws_s3_bucket.this.force_destroy == false
    error_message = "The default bucket name must be <name>-tfstate-<account> and force_destroy off."
  }
  assert {
    condition     = aws_s3_bucket_versioning.this.versioning_configuration[0].status == "Enabled"
    error_message = "Versioning must be Enabled."
  }
  assert {
    condition = (
      one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms" &&
      one(aws_s3_bucket_server_side_encryption_configuration.this.rule).bucket_key_enabled == true
    )
    error_message = "Default encryption must be SSE-KMS with an S3 bucket key."
  }
  assert {
    condition = (
      aws_s3_bucket_public_access_block.this.block_public_acls &&
      aws_s3_bucket_public_access_block.this.block_public_policy &&
      aws_s3_bucket_public_access_block.this.ignore_public_acls &&
      aws_s3_bucket_public_access_block.this.restrict_public_buckets
    )
    error_message = "All four public access block flags must be true."
  }
  assert {
    condition     = aws_s3_bucket_ownership_controls.this.rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs must be disabled (BucketOwnerEnforced)."
  }
  assert {
    condition     = aws_kms_key.this.enable_key_rotation && aws_kms_key.this.deletion_window_in_days == 30
    error_message = "The state key must rotate and have a 30-day deletion window."
  }
  assert {
    condition     = length(aws_s3_bucket_logging.this) == 0
    error_message = "No access logging without a target bucket."
  }
}

run "tls_only_policy_on_by_default" {
  command = plan

  assert {
    condition     = length(aws_s3_bucket_policy.tls_only) == 1
    error_message = "The TLS-only policy must exist by default."
  }
  assert {
    condition = (
      jsondecode(aws_s3_bucket_policy.tls_only[0].policy).Statement[0].Effect == "Deny" &&
      jsondecode(aws_s3_bucket_policy.tls_only[0].policy).Statement[0].Condition.Bool["aws:SecureTransport"] == "false" &&
      toset(jsondecode(aws_s3_bucket_policy.tls_only[0].policy).Statement[0].Resource) == toset([
        "arn:aws:s3:::ingest-test-tfstate-123456789012", "arn:aws:s3:::ingest-test-tfstate-123456789012/*"
      ])
    )
    error_message = "The policy must deny non-TLS requests to the bucket and its objects."
  }
}

run "tls_only_policy_off_for_emulator" {
  command = plan

  variables {
    enable_tls_only_policy = false
  }

  assert {
    condition     = length(aws_s3_bucket_policy.tls_only) == 0
    error_message = "enable_tls_only_policy = false must drop the bucket policy."
  }
}

run "lifecycle" {
  command = plan

  variables {
    noncurrent_version_expiration_days = 30
  }

  assert {
    condition     = [for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.noncurrent_version_expiration[0].noncurrent_days if r.id == "expire-old-state-versions"] == [30]
    error_message = "Noncurrent versions must expire after noncurrent_version_expiration_days."
  }
  assert {
    condition     = [for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.abort_incomplete_multipart_upload[0].days_after_initiation if r.id == "abort-incomplete-multipart-uploads"] == [7]
    error_message = "Incomplete multipart uploads must be aborted after 7 days."
  }
  assert {
    condition     = alltrue([for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.status == "Enabled"])
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
    condition     = aws_s3_bucket.this.bucket == "acme-ingest-prod-tfstate"
    error_message = "An explicit bucket_name must be used."
  }
  assert {
    condition     = aws_s3_bucket_logging.this[0].target_bucket == "acme-access-logs" && aws_s3_bucket_logging.this[0].target_prefix == "s3-access/tfstate/"
    error_message = "Access logs must go to the given bucket."
  }
}

run "encryption_uses_module_key" {
  command = apply

  assert {
    condition     = one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default[0].kms_master_key_id == aws_kms_key.this.arn
    error_message = "The bucket must be encrypted with the module's own key."
  }
  assert {
    condition     = output.backend_config.use_lockfile && output.backend_config.kms_key_id == aws_kms_key.this.arn && output.backend_config.region == "eu-west-1"
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
