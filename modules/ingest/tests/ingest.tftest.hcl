# Bucket, queues and notification of the ingest module, against a mocked AWS provider.

mock_provider "aws" {
  source = "../testing/aws"
}

# Realistic identifiers, so that ARN checks in the provider pass and assertions can tell the
# two queues apart.
override_resource {
  target = module.ingest_bucket.aws_s3_bucket.this
  values = {
    id  = "ingest-test-ingest-123456789012"
    arn = "arn:aws:s3:::ingest-test-ingest-123456789012"
  }
}

override_resource {
  target = aws_sqs_queue.this
  values = {
    id  = "https://sqs.eu-west-1.amazonaws.com/123456789012/ingest-test-ingest"
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/ingest-test-ingest"
    arn = "arn:aws:sqs:eu-west-1:123456789012:ingest-test-ingest"
  }
}

override_resource {
  target = aws_sqs_queue.dlq
  values = {
    id  = "https://sqs.eu-west-1.amazonaws.com/123456789012/ingest-test-ingest-dlq"
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/ingest-test-ingest-dlq"
    arn = "arn:aws:sqs:eu-west-1:123456789012:ingest-test-ingest-dlq"
  }
}

variables {
  name = "ingest-test"
  tags = { Environment = "test" }
}

# The bucket itself is modules/s3-bucket (its tests cover public access and ownership); these
# assert what this module asks of it, through the child module's outputs.
run "bucket_is_private_versioned_and_kms_encrypted" {
  command = apply

  assert {
    condition     = module.ingest_bucket.name == "ingest-test-ingest-123456789012" && output.bucket_name == "ingest-test-ingest-123456789012"
    error_message = "The bucket is named <name>-ingest-<account>."
  }
  assert {
    condition     = module.ingest_bucket.sse_algorithm == "aws:kms" && module.ingest_bucket.kms_key_arn == module.kms.arn
    error_message = "The bucket must use SSE-KMS with the module key."
  }
  assert {
    condition     = module.ingest_bucket.versioning_status == "Enabled"
    error_message = "Versioning must be enabled."
  }
  assert {
    condition     = module.kms.rotation_enabled
    error_message = "The module key must rotate."
  }
  assert {
    condition     = output.bucket_arn == "arn:aws:s3:::ingest-test-ingest-123456789012"
    error_message = "bucket_arn must be the ingest bucket's ARN."
  }
}

run "lifecycle_expires_objects_versions_and_uploads" {
  command = plan

  assert {
    condition = ({ for r in module.ingest_bucket.lifecycle_rules : r.id => r }["expire-processed-objects"].expiration_days == 30
      && { for r in module.ingest_bucket.lifecycle_rules : r.id => r }["expire-processed-objects"].noncurrent_version_expiration_days == 7
    && { for r in module.ingest_bucket.lifecycle_rules : r.id => r }["expire-processed-objects"].abort_incomplete_multipart_upload_days == 1)
    error_message = "Objects expire after 30 days, noncurrent versions after 7, unfinished uploads after 1."
  }
  assert {
    condition     = { for r in module.ingest_bucket.lifecycle_rules : r.id => r }["remove-expired-delete-markers"].expired_object_delete_marker
    error_message = "Expired delete markers must be removed."
  }
}

run "tls_only_bucket_policy_by_default" {
  command = apply

  assert {
    condition = (length(jsondecode(module.ingest_bucket.policy).Statement) == 1
      && jsondecode(module.ingest_bucket.policy).Statement[0].Effect == "Deny"
      && jsondecode(module.ingest_bucket.policy).Statement[0].Condition == { Bool = { "aws:SecureTransport" = "false" } }
      && tolist(jsondecode(module.ingest_bucket.policy).Statement[0].Resource) == tolist([
        "arn:aws:s3:::ingest-test-ingest-123456789012", "arn:aws:s3:::ingest-test-ingest-123456789012/*",
    ]))
    error_message = "The bucket policy must deny non-TLS requests to the bucket and its objects."
  }
}

run "notifications_send_object_created_per_suffix_to_the_queue" {
  command = apply

  assert {
    condition     = length(aws_s3_bucket_notification.this.queue) == 3
    error_message = "One notification target per default suffix."
  }
  assert {
    condition     = toset([for q in aws_s3_bucket_notification.this.queue : q.filter_suffix]) == toset([".ndjson", ".csv", ".jsonl"])
    error_message = "The targets must filter on the given suffixes."
  }
  assert {
    condition = alltrue([for q in aws_s3_bucket_notification.this.queue :
      tolist(q.events) == tolist(["s3:ObjectCreated:*"]) && q.queue_arn == aws_sqs_queue.this.arn
    ])
    error_message = "Every target sends s3:ObjectCreated:* to the ingest queue."
  }
}

run "one_unfiltered_notification_without_suffixes" {
  command = apply

  variables {
    filter_suffixes = []
  }

  assert {
    condition     = length(aws_s3_bucket_notification.this.queue) == 1 && aws_s3_bucket_notification.this.queue[0].filter_suffix == null
    error_message = "Without suffixes, one target receives every object."
  }
}

run "queue_policy_admits_only_the_bucket" {
  command = apply

  assert {
    condition = (jsondecode(aws_sqs_queue_policy.this.policy).Statement[0]
      == {
        Sid       = "AllowNotificationsFromTheIngestBucket"
        Effect    = "Allow"
        Principal = { Service = "s3.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = "arn:aws:sqs:eu-west-1:123456789012:ingest-test-ingest"
        Condition = {
          ArnEquals    = { "aws:SourceArn" = "arn:aws:s3:::ingest-test-ingest-123456789012" }
          StringEquals = { "aws:SourceAccount" = "123456789012" }
        }
    })
    error_message = "Only the ingest bucket, in this account, may send to the queue."
  }
  assert {
    condition     = length([for s in jsondecode(aws_sqs_queue_policy.this.policy).Statement : s if s.Effect == "Allow"]) == 1
    error_message = "The queue policy allows nothing else."
  }
  assert {
    condition = ([for s in jsondecode(module.kms.policy).Statement : s if s.Sid == "S3NotificationsFromTheIngestBucket"][0].Condition
      == {
        ArnEquals    = { "aws:SourceArn" = "arn:aws:s3:::ingest-test-ingest-123456789012" }
        StringEquals = { "aws:SourceAccount" = "123456789012" }
    })
    error_message = "S3 may use the key only for this bucket."
  }
}

run "queues_are_encrypted_and_redrive_to_the_dlq" {
  command = apply

  assert {
    condition     = aws_sqs_queue.this.kms_master_key_id == module.kms.arn && aws_sqs_queue.dlq.kms_master_key_id == module.kms.arn
    error_message = "Both queues must be encrypted with the module key."
  }
  assert {
    condition = (jsondecode(aws_sqs_queue_redrive_policy.this.redrive_policy)
    == { deadLetterTargetArn = "arn:aws:sqs:eu-west-1:123456789012:ingest-test-ingest-dlq", maxReceiveCount = 5 })
    error_message = "The queue must redrive to the DLQ after 5 receives."
  }
  assert {
    condition     = aws_sqs_queue.this.visibility_timeout_seconds == 300 && aws_sqs_queue.this.receive_wait_time_seconds == 20
    error_message = "Defaults: 300 s visibility, 20 s long polling."
  }
  assert {
    condition = (jsondecode(aws_sqs_queue_redrive_allow_policy.dlq[0].redrive_allow_policy)
    == { redrivePermission = "byQueue", sourceQueueArns = ["arn:aws:sqs:eu-west-1:123456789012:ingest-test-ingest"] })
    error_message = "The DLQ must accept messages only from the ingest queue."
  }
  assert {
    condition     = output.queue_arn == aws_sqs_queue.this.arn && output.dlq_arn == aws_sqs_queue.dlq.arn && output.kms_key_arn == module.kms.arn
    error_message = "Outputs must point at the module's resources."
  }
}

run "emulator_switches_drop_tls_policy_and_redrive_allow_policy" {
  command = plan

  variables {
    enable_tls_only_policy      = false
    enable_redrive_allow_policy = false
    max_receive_count           = 3
  }

  assert {
    condition     = module.ingest_bucket.policy == null && length(aws_sqs_queue_redrive_allow_policy.dlq) == 0
    error_message = "The switches must remove the bucket policy and the redrive-allow policy."
  }
  assert {
    condition     = jsondecode(aws_sqs_queue_redrive_policy.this.redrive_policy).maxReceiveCount == 3
    error_message = "max_receive_count must reach the redrive policy."
  }
}
