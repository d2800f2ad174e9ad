data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  create_recorder = var.existing_recorder_name == null
  account_id      = data.aws_caller_identity.current.account_id
  partition       = data.aws_partition.current.partition
}

################################################################################
# The role Config records and delivers with
################################################################################

resource "aws_iam_role" "this" {
  name        = "${var.name}-config"
  description = "Lets AWS Config record ${var.name}'s resources and deliver to s3://${local.bucket_name}"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Service = "config.amazonaws.com" }
        Action    = "sts:AssumeRole"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
    ]
  })

  tags = merge({ Name = "${var.name}-config" }, var.tags)
}

# Read access to every supported resource type, maintained by AWS.
resource "aws_iam_role_policy_attachment" "config_role" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWS_ConfigRole"
}

resource "aws_iam_role_policy" "delivery" {
  name = "deliver-to-config-bucket"
  role = aws_iam_role.this.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "CheckBucket"
        Effect   = "Allow"
        Action   = ["s3:GetBucketAcl", "s3:ListBucket"]
        Resource = local.bucket_arn
      },
      {
        Sid      = "WriteDeliveries"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:PutObjectAcl"]
        Resource = local.delivery_objects_arn
        Condition = {
          StringEquals = { "s3:x-amz-acl" = "bucket-owner-full-control" }
        }
      },
      {
        Sid      = "EncryptDeliveries"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = module.kms.arn
      },
    ]
  })
}

################################################################################
# Recorder, delivery channel, recorder status
################################################################################

# Finding 10 (issue 16): only one recorder (and one delivery channel) is allowed per account and
# region; under Control Tower or organisation Config it already exists, so
# existing_recorder_name skips all three and the rules below evaluate through that recorder.
resource "aws_config_configuration_recorder" "this" {
  count = local.create_recorder ? 1 : 0

  name     = var.name
  role_arn = aws_iam_role.this.arn

  # Continuous recording (the default recording mode) of every supported resource type.
  recording_group {
    all_supported                 = true
    include_global_resource_types = var.include_global_resource_types
  }
}

resource "aws_config_delivery_channel" "this" {
  count = local.create_recorder ? 1 : 0

  name           = var.name
  s3_bucket_name = module.config_bucket.name
  s3_kms_key_arn = module.kms.arn

  snapshot_delivery_properties {
    delivery_frequency = var.delivery_frequency
  }

  # Config checks the bucket and the role when the channel is created.
  depends_on = [
    aws_config_configuration_recorder.this,
    module.config_bucket,
    aws_iam_role_policy.delivery,
  ]
}

resource "aws_config_configuration_recorder_status" "this" {
  count = local.create_recorder ? 1 : 0

  name       = aws_config_configuration_recorder.this[0].name
  is_enabled = true

  # Recording can only start once a delivery channel exists.
  depends_on = [aws_config_delivery_channel.this]
}

moved {
  from = aws_config_configuration_recorder.this
  to   = aws_config_configuration_recorder.this[0]
}

moved {
  from = aws_config_delivery_channel.this
  to   = aws_config_delivery_channel.this[0]
}

moved {
  from = aws_config_configuration_recorder_status.this
  to   = aws_config_configuration_recorder_status.this[0]
}

################################################################################
# Managed rules
################################################################################

resource "aws_config_config_rule" "this" {
  for_each = var.rules

  name                        = "${var.name}-${each.key}"
  description                 = each.value.description
  input_parameters            = length(each.value.input_parameters) > 0 ? jsonencode(each.value.input_parameters) : null
  maximum_execution_frequency = each.value.maximum_execution_frequency

  source {
    owner             = "AWS"
    source_identifier = each.value.source_identifier
  }

  tags = merge({ Name = "${var.name}-${each.key}" }, var.tags)

  depends_on = [aws_config_configuration_recorder.this]
}
