# The hardened bucket on its own, against a mocked AWS provider.

mock_provider "aws" {
  source = "../testing/aws"
}

variables {
  bucket_name = "ingest-test-bucket"
  kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  tags        = { Environment = "test" }
}

run "secure_defaults" {
  command = plan

  assert {
    condition     = aws_s3_bucket.this.bucket == "ingest-test-bucket" && aws_s3_bucket.this.force_destroy == false
    error_message = "The bucket must have the given name and force_destroy off by default."
  }
  assert {
    condition     = aws_s3_bucket.this.tags["Name"] == "ingest-test-bucket" && aws_s3_bucket.this.tags["Environment"] == "test"
    error_message = "The bucket must carry Name and var.tags."
  }
  assert {
    condition     = aws_s3_bucket_versioning.this.versioning_configuration[0].status == "Enabled" && output.versioning_status == "Enabled"
    error_message = "Versioning must be Enabled by default."
  }
  assert {
    condition = (
      one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms" &&
      one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default[0].kms_master_key_id == var.kms_key_arn &&
      one(aws_s3_bucket_server_side_encryption_configuration.this.rule).bucket_key_enabled == true &&
      output.sse_algorithm == "aws:kms"
    )
    error_message = "With kms_key_arn the bucket must use SSE-KMS with that key and an S3 bucket key."
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
    condition     = length(aws_s3_bucket_logging.this) == 0
    error_message = "No access logging without a target bucket."
  }
  assert {
    condition = (
      [for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.id] == ["expire-noncurrent-versions", "abort-incomplete-multipart-uploads"] &&
      alltrue([for r in aws_s3_bucket_lifecycle_configuration.this.rule : r.status == "Enabled"]) &&
      aws_s3_bucket_lifecycle_configuration.this.rule[0].noncurrent_version_expiration[0].noncurrent_days == 90 &&
      aws_s3_bucket_lifecycle_configuration.this.rule[1].abort_incomplete_multipart_upload[0].days_after_initiation == 7
    )
    error_message = "Default lifecycle: noncurrent versions expire after 90 days, incomplete uploads are aborted after 7."
  }
}

run "tls_only_policy_by_default" {
  command = plan

  assert {
    condition     = length(aws_s3_bucket_policy.this) == 1
    error_message = "The TLS-only policy must exist by default."
  }
  assert {
    condition = (
      [for s in jsondecode(aws_s3_bucket_policy.this[0].policy).Statement : s.Sid] == ["DenyInsecureTransport", "DenyTlsOlderThan12"] &&
      alltrue([for s in jsondecode(aws_s3_bucket_policy.this[0].policy).Statement :
        s.Effect == "Deny" && s.Principal == "*" && s.Action == "s3:*" &&
        tolist(s.Resource) == tolist(["arn:aws:s3:::ingest-test-bucket", "arn:aws:s3:::ingest-test-bucket/*"])
      ]) &&
      jsondecode(aws_s3_bucket_policy.this[0].policy).Statement[0].Condition == { Bool = { "aws:SecureTransport" = "false" } } &&
      jsondecode(aws_s3_bucket_policy.this[0].policy).Statement[1].Condition == { NumericLessThan = { "s3:TlsVersion" = "1.2" } }
    )
    error_message = "The policy must deny non-TLS and pre-TLS-1.2 requests to the bucket and its objects."
  }
}

run "tls_only_without_version_statement" {
  command = plan

  variables {
    deny_tls_below_1_2 = false
  }

  assert {
    condition     = [for s in jsondecode(aws_s3_bucket_policy.this[0].policy).Statement : s.Sid] == ["DenyInsecureTransport"]
    error_message = "deny_tls_below_1_2 = false must leave only the aws:SecureTransport deny."
  }
}

run "tls_only_policy_off_for_emulator" {
  command = plan

  variables {
    enable_tls_only_policy = false
  }

  assert {
    condition     = length(aws_s3_bucket_policy.this) == 0
    error_message = "enable_tls_only_policy = false without other statements must drop the bucket policy."
  }
}

run "caller_statements_come_first" {
  command = plan

  variables {
    policy_json = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"FromDocument\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"logdelivery.elasticloadbalancing.amazonaws.com\"},\"Action\":\"s3:PutObject\",\"Resource\":\"arn:aws:s3:::ingest-test-bucket/alb/*\"}]}"
    policy_statements = [{
      Sid       = "FromList"
      Effect    = "Allow"
      Principal = { Service = "config.amazonaws.com" }
      Action    = "s3:GetBucketAcl"
      Resource  = "arn:aws:s3:::ingest-test-bucket"
      Condition = { StringEquals = { "aws:SourceAccount" = "123456789012" } }
    }]
    deny_tls_below_1_2 = false
  }

  assert {
    condition     = [for s in jsondecode(aws_s3_bucket_policy.this[0].policy).Statement : s.Sid] == ["FromDocument", "FromList", "DenyInsecureTransport"]
    error_message = "The policy must hold the document's statements, then the listed ones, then the TLS deny."
  }
  assert {
    condition     = jsondecode(aws_s3_bucket_policy.this[0].policy).Statement[1].Condition.StringEquals["aws:SourceAccount"] == "123456789012"
    error_message = "Listed statements must reach the policy unchanged."
  }
}

run "caller_statements_without_tls_policy" {
  command = plan

  variables {
    enable_tls_only_policy = false
    policy_statements      = [{ Sid = "Only", Effect = "Allow", Principal = { Service = "config.amazonaws.com" }, Action = "s3:ListBucket", Resource = "arn:aws:s3:::ingest-test-bucket" }]
  }

  assert {
    condition     = [for s in jsondecode(aws_s3_bucket_policy.this[0].policy).Statement : s.Sid] == ["Only"]
    error_message = "With the TLS-only statements off, the caller's statements must still be attached."
  }
}

run "sse_s3_without_kms_key" {
  command = plan

  variables {
    kms_key_arn = null
  }

  assert {
    condition = (
      one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256" &&
      one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default[0].kms_master_key_id == null &&
      output.sse_algorithm == "AES256"
    )
    error_message = "kms_key_arn = null must give SSE-S3 (AES256) without a key."
  }
}

run "lifecycle_from_variable" {
  command = plan

  variables {
    lifecycle_rules = [
      { id = "expire", expiration_days = 30, noncurrent_version_expiration_days = 7, abort_incomplete_multipart_upload_days = 1 },
      { id = "markers", expired_object_delete_marker = true },
    ]
  }

  assert {
    condition = (
      aws_s3_bucket_lifecycle_configuration.this.rule[0].id == "expire" &&
      aws_s3_bucket_lifecycle_configuration.this.rule[0].expiration[0].days == 30 &&
      aws_s3_bucket_lifecycle_configuration.this.rule[0].noncurrent_version_expiration[0].noncurrent_days == 7 &&
      aws_s3_bucket_lifecycle_configuration.this.rule[0].abort_incomplete_multipart_upload[0].days_after_initiation == 1
    )
    error_message = "Expiration, noncurrent expiration and multipart abort must come from the rule."
  }
  assert {
    condition = (
      aws_s3_bucket_lifecycle_configuration.this.rule[1].id == "markers" &&
      aws_s3_bucket_lifecycle_configuration.this.rule[1].expiration[0].expired_object_delete_marker == true &&
      length(aws_s3_bucket_lifecycle_configuration.this.rule[1].noncurrent_version_expiration) == 0 &&
      length(aws_s3_bucket_lifecycle_configuration.this.rule[1].abort_incomplete_multipart_upload) == 0
    )
    error_message = "A rule with only expired_object_delete_marker must have only that action."
  }
}

run "versioning_off_force_destroy_and_access_logs" {
  command = plan

  variables {
    versioning_enabled     = false
    force_destroy          = true
    access_log_bucket_name = "acme-access-logs"
    access_log_prefix      = "s3-access/test/"
  }

  assert {
    condition     = aws_s3_bucket_versioning.this.versioning_configuration[0].status == "Suspended"
    error_message = "versioning_enabled = false must suspend versioning."
  }
  assert {
    condition     = aws_s3_bucket.this.force_destroy == true
    error_message = "force_destroy must reach the bucket."
  }
  assert {
    condition     = aws_s3_bucket_logging.this[0].target_bucket == "acme-access-logs" && aws_s3_bucket_logging.this[0].target_prefix == "s3-access/test/"
    error_message = "Access logs must go to the given bucket and prefix."
  }
}

run "reject_bad_bucket_name" {
  command = plan
  variables {
    bucket_name = "Ingest_Bucket"
  }
  expect_failures = [var.bucket_name]
}

run "reject_bad_kms_key_arn" {
  command = plan
  variables {
    kms_key_arn = "11111111-2222-3333-4444-555555555555"
  }
  expect_failures = [var.kms_key_arn]
}

run "reject_expiration_days_with_delete_marker" {
  command = plan
  variables {
    lifecycle_rules = [{ id = "both", expiration_days = 30, expired_object_delete_marker = true }]
  }
  expect_failures = [var.lifecycle_rules]
}

run "reject_rule_without_action" {
  command = plan
  variables {
    lifecycle_rules = [{ id = "nothing" }]
  }
  expect_failures = [var.lifecycle_rules]
}

run "reject_duplicate_rule_ids" {
  command = plan
  variables {
    lifecycle_rules = [{ id = "a", expiration_days = 1 }, { id = "a", expiration_days = 2 }]
  }
  expect_failures = [var.lifecycle_rules]
}

run "reject_fractional_days" {
  command = plan
  variables {
    lifecycle_rules = [{ id = "a", noncurrent_version_expiration_days = 1.5 }]
  }
  expect_failures = [var.lifecycle_rules]
}

run "reject_statements_without_effect" {
  command = plan
  variables {
    policy_statements = [{ Sid = "x" }]
  }
  expect_failures = [var.policy_statements]
}
