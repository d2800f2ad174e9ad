################################################################################
# VPC flow logs (all traffic) to a KMS-encrypted CloudWatch log group
################################################################################

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # `id` is the region name in provider 5.x and 6.x (`name` is deprecated in 6.x).
  region = data.aws_region.current.id

  flow_log_group_name = "/aws/vpc/${var.name}/flow-logs"
  # Built from its parts (not taken from the resource) because the KMS key policy needs it
  # before the log group exists.
  flow_log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.flow_log_group_name}"
}

module "kms" {
  source = "../kms-key"

  name                    = "${var.name}-flow-logs"
  description             = "${var.name}: encrypts the VPC flow log group ${local.flow_log_group_name}"
  deletion_window_in_days = var.kms_deletion_window_days
  tags                    = var.tags

  policy_statements = [{
    # CloudWatch Logs may use the key only for this log group.
    Sid       = "CloudWatchLogsUsesKeyForFlowLogGroup"
    Effect    = "Allow"
    Principal = { Service = "logs.${local.region}.amazonaws.com" }
    Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    Resource  = "*"
    Condition = {
      ArnEquals = { "kms:EncryptionContext:aws:logs:arn" = local.flow_log_group_arn }
    }
  }]
}

moved {
  from = aws_kms_key.flow_logs
  to   = module.kms.aws_kms_key.this
}

moved {
  from = aws_kms_alias.flow_logs
  to   = module.kms.aws_kms_alias.this
}

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = local.flow_log_group_name
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = module.kms.arn

  tags = merge({ Name = local.flow_log_group_name }, var.tags)
}

resource "aws_iam_role" "flow_logs" {
  name        = "${var.name}-vpc-flow-logs"
  description = "Lets VPC Flow Logs deliver ${var.name}'s flow logs to CloudWatch Logs"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect    = "Allow"
        Principal = { Service = "vpc-flow-logs.amazonaws.com" }
        Action    = "sts:AssumeRole"
        # Confused-deputy guard: only flow logs of this account may assume the role.
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
          ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:ec2:${local.region}:${local.account_id}:vpc-flow-log/*" }
        }
      },
    ]
  })

  tags = merge({ Name = "${var.name}-vpc-flow-logs" }, var.tags)
}

resource "aws_iam_role_policy" "flow_logs" {
  name = "write-flow-log-group"
  role = aws_iam_role.flow_logs.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "WriteFlowLogStreams"
        Effect = "Allow"
        Action = [
          "logs:CreateLogStream",
          "logs:PutLogEvents",
          "logs:DescribeLogStreams",
        ]
        Resource = [
          aws_cloudwatch_log_group.flow_logs.arn,
          "${aws_cloudwatch_log_group.flow_logs.arn}:*",
        ]
      },
      {
        # Finding 14 (issue 16): AWS's documented flow-log role also has DescribeLogGroups, a
        # list call that cannot be narrowed to one group (it takes the account's log-group:*).
        Sid      = "DescribeLogGroups"
        Effect   = "Allow"
        Action   = "logs:DescribeLogGroups"
        Resource = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"
      },
    ]
  })
}

resource "aws_flow_log" "this" {
  vpc_id               = aws_vpc.this.id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn         = aws_iam_role.flow_logs.arn

  tags = merge({ Name = var.name }, var.tags)

  # The role's policy must exist before the first delivery attempt.
  depends_on = [aws_iam_role_policy.flow_logs]
}
