# Security groups and IAM of the security module, against a mocked AWS provider.

mock_provider "aws" {
  source = "../testing/aws"
}

variables {
  name              = "ingest-test"
  vpc_id            = "vpc-0123456789abcdef0"
  alb_ingress_cidrs = ["203.0.113.0/24", "198.51.100.0/24"]
  app_secret_arns = [
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ingest-test/api-keys-AbCdEf",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ingest-test/partner-credentials-GhIjKl",
  ]
  kms_key_arns = [
    "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555",
  ]
  metric_namespace  = "Ingest/test"
  log_group_arns    = ["arn:aws:logs:eu-west-1:123456789012:log-group:/ingest-test/app"]
  ingest_bucket_arn = "arn:aws:s3:::ingest-test-ingest-123456789012"
  ingest_queue_arn  = "arn:aws:sqs:eu-west-1:123456789012:ingest-test-ingest"
  tags              = { Environment = "test" }
}

run "alb_ingress_only_80_and_443_from_the_given_cidrs" {
  command = plan

  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.alb) == 4
    error_message = "Expected one ALB ingress rule per (port, CIDR) pair: 2 ports x 2 CIDRs."
  }
  assert {
    condition = alltrue([for r in aws_vpc_security_group_ingress_rule.alb :
      contains([80, 443], r.from_port) && r.from_port == r.to_port && r.ip_protocol == "tcp"
    ])
    error_message = "ALB ingress must be TCP 80 or 443, one port per rule."
  }
  assert {
    condition     = toset([for r in aws_vpc_security_group_ingress_rule.alb : r.cidr_ipv4]) == toset(var.alb_ingress_cidrs)
    error_message = "ALB ingress must come exactly from alb_ingress_cidrs."
  }
  assert {
    condition     = aws_security_group.alb.tags.Name == "ingest-test-alb" && aws_security_group.alb.tags.Environment == "test"
    error_message = "Security groups must carry Name and the given tags."
  }
}

run "groups_chain_alb_to_app_to_database" {
  # Group IDs are only known after apply (the mock provider invents them).
  command = apply

  assert {
    condition     = aws_vpc_security_group_ingress_rule.app_from_alb.referenced_security_group_id == aws_security_group.alb.id
    error_message = "App ingress must come from the ALB security group."
  }
  assert {
    condition = (aws_vpc_security_group_ingress_rule.app_from_alb.cidr_ipv4 == null
      && aws_vpc_security_group_ingress_rule.app_from_alb.from_port == 80
    && aws_vpc_security_group_ingress_rule.app_from_alb.to_port == 80)
    error_message = "App ingress must be the app port only, with no CIDR source."
  }
  assert {
    condition = (aws_vpc_security_group_ingress_rule.database_from_app.referenced_security_group_id == aws_security_group.app.id
      && aws_vpc_security_group_ingress_rule.database_from_app.security_group_id == aws_security_group.database.id
      && aws_vpc_security_group_ingress_rule.database_from_app.from_port == 3306
      && aws_vpc_security_group_ingress_rule.database_from_app.to_port == 3306
    && aws_vpc_security_group_ingress_rule.database_from_app.cidr_ipv4 == null)
    error_message = "Database ingress must be 3306 from the app security group only."
  }
  assert {
    condition = (aws_vpc_security_group_egress_rule.alb_to_app.referenced_security_group_id == aws_security_group.app.id
    && aws_vpc_security_group_egress_rule.alb_to_app.from_port == 80)
    error_message = "ALB egress must go only to the app security group on the app port."
  }
  assert {
    condition     = aws_vpc_security_group_egress_rule.app_to_database.referenced_security_group_id == aws_security_group.database.id
    error_message = "App egress to MySQL must target the database security group."
  }
  assert {
    condition = length([for r in [
      aws_vpc_security_group_egress_rule.alb_to_app,
      aws_vpc_security_group_egress_rule.app_https,
      aws_vpc_security_group_egress_rule.app_to_database,
    ] : r if r.security_group_id == aws_security_group.database.id]) == 0
    error_message = "The database security group must have no egress rule."
  }
  assert {
    condition = alltrue([for r in concat(values(aws_vpc_security_group_ingress_rule.alb), [
      aws_vpc_security_group_ingress_rule.app_from_alb,
      aws_vpc_security_group_ingress_rule.database_from_app,
      aws_vpc_security_group_egress_rule.alb_to_app,
      aws_vpc_security_group_egress_rule.app_https,
      aws_vpc_security_group_egress_rule.app_to_database,
    ]) : !(r.from_port <= 22 && r.to_port >= 22) && r.ip_protocol == "tcp"])
    error_message = "No rule may open port 22 or a non-TCP protocol."
  }
  assert {
    condition = alltrue([for r in [
      aws_vpc_security_group_ingress_rule.app_from_alb,
      aws_vpc_security_group_ingress_rule.database_from_app,
      aws_vpc_security_group_egress_rule.alb_to_app,
      aws_vpc_security_group_egress_rule.app_to_database,
    ] : r.description != null])
    error_message = "Rules referencing another group must be described by default."
  }
}

run "emulator_switch_drops_descriptions_on_reference_rules_only" {
  command = plan

  variables {
    describe_sg_reference_rules = false
  }

  assert {
    condition = alltrue([for r in [
      aws_vpc_security_group_ingress_rule.app_from_alb,
      aws_vpc_security_group_ingress_rule.database_from_app,
      aws_vpc_security_group_egress_rule.alb_to_app,
      aws_vpc_security_group_egress_rule.app_to_database,
    ] : r.description == null])
    error_message = "With describe_sg_reference_rules = false, rules referencing a group carry no description."
  }
  assert {
    condition     = aws_vpc_security_group_egress_rule.app_https.description != null && alltrue([for r in aws_vpc_security_group_ingress_rule.alb : r.description != null])
    error_message = "CIDR rules keep their descriptions."
  }
}

run "instance_policy_is_scoped_to_the_given_arns" {
  command = plan

  assert {
    condition     = jsondecode(aws_iam_role_policy.instance.policy).Version == "2012-10-17"
    error_message = "The instance policy must be a 2012-10-17 policy document."
  }
  assert {
    condition = (tolist({ for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s.Sid => s.Resource }["ReadAppSecrets"])
    == var.app_secret_arns)
    error_message = "Secrets access must be scoped to exactly app_secret_arns."
  }
  assert {
    condition = ({ for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s.Sid => s.Action }["ReadAppSecrets"]
    == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"])
    error_message = "Secrets access must be GetSecretValue and DescribeSecret only."
  }
  assert {
    condition = ({ for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s.Sid => s }["DecryptThroughAppServices"]
      == {
        Sid      = "DecryptThroughAppServices"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = ["arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"]
        Condition = { StringEquals = { "kms:ViaService" = [
          "secretsmanager.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com", "sqs.eu-west-1.amazonaws.com",
        ] } }
    })
    error_message = "kms:Decrypt must be scoped to kms_key_arns and to Secrets Manager, S3 and SQS in the region."
  }
  assert {
    condition = ({ for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s.Sid => s }["PutMetricsInAppNamespace"].Condition
    == { StringEquals = { "cloudwatch:namespace" = "Ingest/test" } })
    error_message = "PutMetricData must be limited to metric_namespace."
  }
  assert {
    condition = ({ for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s.Sid => s.Resource }["WriteAppLogs"]
    == ["arn:aws:logs:eu-west-1:123456789012:log-group:/ingest-test/app", "arn:aws:logs:eu-west-1:123456789012:log-group:/ingest-test/app:*"])
    error_message = "Log writes must be scoped to the given log groups and their streams."
  }
  assert {
    condition = ({ for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s.Sid => s.Resource }["ListIngestBucket"]
      == [var.ingest_bucket_arn]
      && { for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s.Sid => s.Resource }["ReadIngestObjects"]
    == ["${var.ingest_bucket_arn}/*"])
    error_message = "S3 access must be ListBucket on the bucket and GetObject on its objects."
  }
  assert {
    condition = ({ for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s.Sid => s }["ConsumeIngestQueue"]
      == {
        Sid      = "ConsumeIngestQueue"
        Effect   = "Allow"
        Action   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
        Resource = ["arn:aws:sqs:eu-west-1:123456789012:ingest-test-ingest"]
    })
    error_message = "SQS access must be the four consumer actions on ingest_queue_arn only."
  }
  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.instance.policy).Statement :
      s.Effect == "Allow" && alltrue([for a in s.Action : !strcontains(a, "*")])
    ])
    error_message = "No wildcard actions in the instance policy."
  }
  assert {
    condition = toset([for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s.Sid if s.Resource == "*"]) == toset([
      "PutMetricsInAppNamespace", "DescribeInstanceTags",
    ])
    error_message = "Only the actions without resource-level permissions may use Resource \"*\"."
  }
  assert {
    condition     = !contains([for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s.Sid], "ConnectToDatabaseWithIam")
    error_message = "rds-db:connect must be absent without database_cluster_resource_id."
  }
  assert {
    condition     = jsondecode(aws_iam_role.instance.assume_role_policy).Statement[0].Principal == { Service = "ec2.amazonaws.com" }
    error_message = "Only EC2 may assume the instance role."
  }
  assert {
    condition     = aws_iam_role_policy_attachment.instance_ssm.policy_arn == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    error_message = "The instance role must have the SSM core policy (Session Manager instead of SSH)."
  }
  assert {
    condition = (jsondecode(aws_iam_role.rds_monitoring.assume_role_policy).Statement[0].Principal == { Service = "monitoring.rds.amazonaws.com" }
    && aws_iam_role_policy_attachment.rds_monitoring.policy_arn == "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")
    error_message = "The RDS monitoring role must trust monitoring.rds and carry AmazonRDSEnhancedMonitoringRole."
  }
}

run "database_iam_connect_is_scoped_to_the_cluster_and_user" {
  command = plan

  variables {
    database_cluster_resource_id = "cluster-ABCDEFGHIJKLMNOPQRSTUVWXY0"
  }

  assert {
    condition = ({ for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s.Sid => s.Resource }["ConnectToDatabaseWithIam"]
    == ["arn:aws:rds-db:eu-west-1:123456789012:dbuser:cluster-ABCDEFGHIJKLMNOPQRSTUVWXY0/ingest_app"])
    error_message = "rds-db:connect must name the cluster resource id and the IAM user."
  }
}

run "optional_statements_are_left_out_when_no_arns_are_given" {
  command = plan

  variables {
    app_secret_arns   = []
    kms_key_arns      = []
    log_group_arns    = []
    ingest_bucket_arn = null
    ingest_queue_arn  = null
  }

  assert {
    condition = ([for s in jsondecode(aws_iam_role_policy.instance.policy).Statement : s.Sid]
    == ["PutMetricsInAppNamespace", "DescribeInstanceTags"])
    error_message = "Without ARNs only the metric and tag statements remain."
  }
}

# Issue 16, finding 5: a replacement group must be able to exist beside the one it replaces
# (create_before_destroy), so the groups take a name_prefix, and the rules are their own
# resources on each group (made anew with a new group). That AWS then moves the ALB, Aurora and
# the launch templates in place, and refuses to delete a group an instance still uses
# (DependencyViolation), only real AWS shows: moto deletes groups in use.
run "finding_5_security_groups_are_replaceable" {
  command = plan

  assert {
    condition = (
      aws_security_group.alb.name_prefix == "ingest-test-alb-" &&
      aws_security_group.app.name_prefix == "ingest-test-app-" &&
      aws_security_group.database.name_prefix == "ingest-test-database-"
    )
    error_message = "Each security group must take a name_prefix (<name>-<role>-), not a fixed name."
  }

  assert {
    condition = (
      aws_security_group.alb.tags["Name"] == "ingest-test-alb" &&
      aws_security_group.app.tags["Name"] == "ingest-test-app" &&
      aws_security_group.database.tags["Name"] == "ingest-test-database"
    )
    error_message = "The Name tags must keep the readable group names."
  }

  assert {
    condition     = aws_security_group.app.timeouts.delete == "3m"
    error_message = "The app group's delete must give up after 3 minutes (only a deploy frees it)."
  }
}
