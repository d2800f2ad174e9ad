# IAM for the instances (role + instance profile) and for RDS enhanced monitoring.
# The policies are built with jsonencode() rather than aws_iam_policy_document so that the
# tests can decode and check the exact JSON that reaches IAM.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.id
  dns_suffix = data.aws_partition.current.dns_suffix

  # An IAM statement with an empty Resource list is invalid, so each statement whose ARNs were
  # not given is left out: `condition ? [statement] : []`.
  instance_statements = concat(
    length(var.app_secret_arns) == 0 ? [] : [{
      Sid      = "ReadAppSecrets"
      Effect   = "Allow"
      Action   = ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
      Resource = var.app_secret_arns
    }],
    # The instances only ever decrypt through the services that hold their data.
    length(var.kms_key_arns) == 0 ? [] : [{
      Sid      = "DecryptThroughAppServices"
      Effect   = "Allow"
      Action   = ["kms:Decrypt"]
      Resource = var.kms_key_arns
      Condition = {
        StringEquals = {
          "kms:ViaService" = [for service in ["secretsmanager", "s3", "sqs"] : "${service}.${local.region}.${local.dns_suffix}"]
        }
      }
    }],
    # PutMetricData has no resource-level permissions; the namespace condition is the scope.
    [{
      Sid       = "PutMetricsInAppNamespace"
      Effect    = "Allow"
      Action    = ["cloudwatch:PutMetricData"]
      Resource  = "*"
      Condition = { StringEquals = { "cloudwatch:namespace" = var.metric_namespace } }
    }],
    length(var.log_group_arns) == 0 ? [] : [{
      Sid      = "WriteAppLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
      Resource = flatten([for arn in var.log_group_arns : [arn, "${arn}:*"]])
    }],
    # The CloudWatch agent reads the instance's tags (aws:autoscaling:groupName included) for
    # metric dimensions; Describe calls have no resource-level permissions.
    [{
      Sid      = "DescribeInstanceTags"
      Effect   = "Allow"
      Action   = ["ec2:DescribeTags"]
      Resource = "*"
    }],
    var.ingest_bucket_arn == null ? [] : [
      {
        Sid      = "ListIngestBucket"
        Effect   = "Allow"
        Action   = ["s3:ListBucket"]
        Resource = [var.ingest_bucket_arn]
      },
      {
        Sid      = "ReadIngestObjects"
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["${var.ingest_bucket_arn}/*"]
      },
    ],
    var.ingest_queue_arn == null ? [] : [{
      Sid      = "ConsumeIngestQueue"
      Effect   = "Allow"
      Action   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
      Resource = [var.ingest_queue_arn]
    }],
    var.database_cluster_resource_id == null ? [] : [{
      Sid      = "ConnectToDatabaseWithIam"
      Effect   = "Allow"
      Action   = ["rds-db:connect"]
      Resource = ["arn:${local.partition}:rds-db:${local.region}:${local.account_id}:dbuser:${var.database_cluster_resource_id}/${var.database_iam_username}"]
    }],
  )
}

# --- instance role ---------------------------------------------------------------------

resource "aws_iam_role" "instance" {
  name        = "${var.name}-instance"
  description = "Assumed by the app instances: reads its secrets, bucket and queue, writes its logs and metrics"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "Ec2AssumeRole"
      Effect    = "Allow"
      Principal = { Service = "ec2.${local.dns_suffix}" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = merge({ Name = "${var.name}-instance" }, var.tags)
}

resource "aws_iam_role_policy" "instance" {
  name   = "${var.name}-instance"
  role   = aws_iam_role.instance.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.instance_statements })
}

# Session Manager instead of SSH: no key pairs, no port 22.
resource "aws_iam_role_policy_attachment" "instance_ssm" {
  role       = aws_iam_role.instance.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "this" {
  name = "${var.name}-instance"
  role = aws_iam_role.instance.name

  tags = merge({ Name = "${var.name}-instance" }, var.tags)
}

# --- RDS enhanced monitoring -----------------------------------------------------------

resource "aws_iam_role" "rds_monitoring" {
  name        = "${var.name}-rds-monitoring"
  description = "Lets RDS publish enhanced-monitoring metrics to CloudWatch Logs"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "RdsMonitoringAssumeRole"
      Effect    = "Allow"
      Principal = { Service = "monitoring.rds.${local.dns_suffix}" }
      Action    = "sts:AssumeRole"
      # Only RDS acting for this account may assume the role (confused-deputy guard).
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })

  tags = merge({ Name = "${var.name}-rds-monitoring" }, var.tags)
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}
