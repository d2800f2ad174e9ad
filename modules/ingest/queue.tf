# The queue the workers consume, its dead-letter queue, and the bucket notification that
# feeds it. Both queues are encrypted with the module's key.

resource "aws_sqs_queue" "dlq" {
  name                              = "${var.name}-ingest-dlq"
  message_retention_seconds         = var.dlq_message_retention_seconds
  kms_master_key_id                 = module.kms.arn
  kms_data_key_reuse_period_seconds = 300

  tags = merge({ Name = "${var.name}-ingest-dlq" }, var.tags)
}

resource "aws_sqs_queue" "this" {
  name                              = "${var.name}-ingest"
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  receive_wait_time_seconds         = var.receive_wait_time_seconds
  message_retention_seconds         = var.message_retention_seconds
  kms_master_key_id                 = module.kms.arn
  kms_data_key_reuse_period_seconds = 300

  # The redrive policy is its own resource below. The queue's copy of the attribute is
  # ignored: the local emulator re-serialises it with other spacing, which the queue resource
  # would show as a change on every plan (the redrive-policy resource does not).
  lifecycle {
    ignore_changes = [redrive_policy]
  }

  tags = merge({ Name = "${var.name}-ingest" }, var.tags)
}

resource "aws_sqs_queue_redrive_policy" "this" {
  queue_url = aws_sqs_queue.this.id
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

# A separate resource: the DLQ cannot name the main queue inline (the main queue already
# names the DLQ, which would be a cycle).
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  count = var.enable_redrive_allow_policy ? 1 : 0

  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this.arn]
  })
}

resource "aws_sqs_queue_policy" "this" {
  queue_url = aws_sqs_queue.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AllowNotificationsFromTheIngestBucket"
        Effect    = "Allow"
        Principal = { Service = "s3.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.this.arn
        Condition = {
          ArnEquals    = { "aws:SourceArn" = module.ingest_bucket.arn }
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = "sqs:*"
        Resource  = aws_sqs_queue.this.arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })

  # Both resources set attributes of the same queue; set the redrive policy first. The local
  # emulator (moto 5.2.5) clears a queue's Policy on any SetQueueAttributes call without it.
  depends_on = [aws_sqs_queue_redrive_policy.this]
}

resource "aws_s3_bucket_notification" "this" {
  bucket = module.ingest_bucket.name

  # One target per suffix; with no suffixes, one target for every object.
  dynamic "queue" {
    for_each = length(var.filter_suffixes) > 0 ? var.filter_suffixes : [""]

    content {
      id            = queue.value == "" ? "object-created" : "object-created-${trimprefix(queue.value, ".")}"
      queue_arn     = aws_sqs_queue.this.arn
      events        = ["s3:ObjectCreated:*"]
      filter_suffix = queue.value == "" ? null : queue.value
    }
  }

  # S3 sends a test message when the notification is saved: the queue must already admit it.
  depends_on = [aws_sqs_queue_policy.this]
}
