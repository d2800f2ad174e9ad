data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.id # .name is deprecated in provider 6.x

  # RDS creates /aws/rds/cluster/<id>/<type> on first export (unencrypted, kept forever);
  # creating the groups first gives them the module's key and a retention.
  log_group_prefix = "/aws/rds/cluster/${var.name}"

  # Cluster-level parameters. Static ones (binlog_format) only take effect after a reboot.
  cluster_parameters = merge(
    {
      character_set_server     = { value = "utf8mb4", apply_method = "immediate" }
      collation_server         = { value = "utf8mb4_0900_ai_ci", apply_method = "immediate" }
      require_secure_transport = { value = "ON", apply_method = "immediate" }
    },
    # The audit export stays empty unless the audit plugin logs something.
    contains(var.enabled_cloudwatch_logs_exports, "audit") ? {
      server_audit_logging = { value = "1", apply_method = "immediate" }
      server_audit_events  = { value = "CONNECT,QUERY_DCL,QUERY_DDL", apply_method = "immediate" }
    } : {},
    var.enable_binlog ? {
      binlog_format = { value = "ROW", apply_method = "pending-reboot" }
    } : {},
  )

  instance_parameters = merge(
    {
      slow_query_log  = { value = "1", apply_method = "immediate" }
      long_query_time = { value = tostring(var.long_query_time), apply_method = "immediate" }
      log_output      = { value = "FILE", apply_method = "immediate" } # exports read the files
    },
    contains(var.enabled_cloudwatch_logs_exports, "general") ? {
      general_log = { value = "1", apply_method = "immediate" }
    } : {},
  )
}

# ---------------------------------------------------------------------------------------------
# KMS: one key for storage, Performance Insights, the master user secret and the exported logs.
# RDS and Secrets Manager use the key through grants made with the caller's IAM permissions
# (delegated by the account-root statement); CloudWatch Logs needs its own statement.
# ---------------------------------------------------------------------------------------------
module "kms" {
  source = "../kms-key"

  name        = "${var.name}-database"
  description = "${var.name} Aurora storage, Performance Insights, master secret and logs"
  tags        = var.tags

  policy_statements = [{
    Sid       = "CloudWatchLogsExports"
    Effect    = "Allow"
    Principal = { Service = "logs.${local.region}.amazonaws.com" }
    Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    Resource  = "*"
    Condition = {
      ArnLike = {
        "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_prefix}/*"
      }
    }
  }]
}

moved {
  from = aws_kms_key.this
  to   = module.kms.aws_kms_key.this
}

moved {
  from = aws_kms_alias.this
  to   = module.kms.aws_kms_alias.this
}

resource "aws_cloudwatch_log_group" "exports" {
  for_each = toset(var.enabled_cloudwatch_logs_exports)

  name              = "${local.log_group_prefix}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = module.kms.arn

  tags = merge({ Name = "${local.log_group_prefix}/${each.key}" }, var.tags)
}

# ---------------------------------------------------------------------------------------------
# Networking and parameters
# ---------------------------------------------------------------------------------------------
resource "aws_db_subnet_group" "this" {
  name        = var.name
  description = "${var.name} Aurora database subnets"
  subnet_ids  = var.subnet_ids

  tags = merge({ Name = var.name }, var.tags)
}

resource "aws_rds_cluster_parameter_group" "this" {
  count = var.enable_custom_parameters ? 1 : 0

  name        = "${var.name}-cluster"
  family      = "aurora-mysql8.0"
  description = "${var.name} Aurora MySQL 8.0 cluster parameters"

  dynamic "parameter" {
    for_each = local.cluster_parameters
    content {
      name         = parameter.key
      value        = parameter.value.value
      apply_method = parameter.value.apply_method
    }
  }

  tags = merge({ Name = "${var.name}-cluster" }, var.tags)
}

resource "aws_db_parameter_group" "this" {
  count = var.enable_custom_parameters ? 1 : 0

  name        = "${var.name}-instance"
  family      = "aurora-mysql8.0"
  description = "${var.name} Aurora MySQL 8.0 instance parameters"

  dynamic "parameter" {
    for_each = local.instance_parameters
    content {
      name         = parameter.key
      value        = parameter.value.value
      apply_method = parameter.value.apply_method
    }
  }

  tags = merge({ Name = "${var.name}-instance" }, var.tags)
}

# ---------------------------------------------------------------------------------------------
# Cluster and instances
# ---------------------------------------------------------------------------------------------
resource "aws_rds_cluster" "this" {
  #checkov:skip=CKV_AWS_326:Backtrack is off by default (issue 16, finding 17): AWS has rejected it on some Aurora MySQL 3 versions, it bills change-record storage and rules out binlog replication; backtrack_window_hours turns it on where wanted.
  #checkov:skip=CKV2_AWS_8:Recovery is covered by automated backups (point-in-time restore for backup_retention_days), the final snapshot and optional backtrack; an AWS Backup plan with vault lock and cross-account copies is an organisation-level control, not part of this module.
  cluster_identifier = var.name
  engine             = "aurora-mysql"
  engine_mode        = "provisioned" # Serverless v2 runs in provisioned mode with db.serverless instances
  engine_version     = var.engine_version
  database_name      = var.database_name
  port               = 3306

  master_username               = var.master_username
  manage_master_user_password   = true # RDS generates the password and keeps it in Secrets Manager
  master_user_secret_kms_key_id = module.kms.arn

  db_subnet_group_name            = aws_db_subnet_group.this.name
  vpc_security_group_ids          = var.security_group_ids
  db_cluster_parameter_group_name = var.enable_custom_parameters ? aws_rds_cluster_parameter_group.this[0].name : null

  storage_encrypted                   = true
  kms_key_id                          = module.kms.arn
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = var.enabled_cloudwatch_logs_exports

  backup_retention_period      = var.backup_retention_days
  preferred_backup_window      = var.preferred_backup_window
  preferred_maintenance_window = var.preferred_maintenance_window
  copy_tags_to_snapshot        = true
  deletion_protection          = var.deletion_protection
  skip_final_snapshot          = var.skip_final_snapshot
  # Finding 3 (issue 16): unique per cluster, so destroying a re-created cluster of the same name
  # does not collide with the snapshot of the last teardown. Fixed at creation (ignore_changes).
  final_snapshot_identifier = "${var.name}-final-${formatdate("YYYYMMDDhhmmss", timestamp())}"
  backtrack_window          = var.backtrack_window_hours * 3600
  apply_immediately         = var.apply_immediately

  serverlessv2_scaling_configuration {
    min_capacity             = var.min_capacity
    max_capacity             = var.max_capacity
    seconds_until_auto_pause = var.min_capacity == 0 ? var.seconds_until_auto_pause : null
  }

  tags = merge({ Name = var.name }, var.tags)

  # The exported log groups must exist before RDS creates its own, unencrypted ones.
  depends_on = [aws_cloudwatch_log_group.exports]

  lifecycle {
    # With auto_minor_version_upgrade, RDS moves the cluster to newer 3.x minors in the
    # maintenance window; without this, the next plan would try to downgrade it. Major
    # upgrades are a planned operation (snapshot, test, then change engine_version by hand).
    # scaling_configuration is the Serverless v1 block, never used in provisioned mode; real AWS
    # returns nothing for it, but moto 5.2.5 echoes an empty one (a diff on every plan).
    ignore_changes = [final_snapshot_identifier, engine_version, scaling_configuration]

    precondition {
      condition     = var.max_capacity >= var.min_capacity
      error_message = "max_capacity must not be below min_capacity."
    }
  }
}

resource "aws_rds_cluster_instance" "this" {
  count = var.instance_count

  identifier         = "${var.name}-${count.index + 1}"
  cluster_identifier = aws_rds_cluster.this.id
  engine             = aws_rds_cluster.this.engine
  instance_class     = "db.serverless"

  # Spread over the given AZs. Whichever instance RDS creates first becomes the writer; the others
  # are readers and failover targets. Tier 1 (like 0) keeps a Serverless v2 reader at the writer's
  # capacity, so a failover lands on a warm instance (tiers 2-15 would scale on their own load).
  availability_zone = length(var.availability_zones) > 0 ? element(var.availability_zones, count.index) : null
  promotion_tier    = 1

  db_subnet_group_name       = aws_db_subnet_group.this.name
  db_parameter_group_name    = var.enable_custom_parameters ? aws_db_parameter_group.this[0].name : null
  publicly_accessible        = false
  auto_minor_version_upgrade = true
  copy_tags_to_snapshot      = true
  apply_immediately          = var.apply_immediately

  monitoring_interval = var.monitoring_interval
  monitoring_role_arn = var.monitoring_interval > 0 ? var.monitoring_role_arn : null

  performance_insights_enabled          = var.performance_insights_enabled
  performance_insights_kms_key_id       = var.performance_insights_enabled ? module.kms.arn : null
  performance_insights_retention_period = var.performance_insights_enabled ? var.performance_insights_retention_days : null

  tags = merge({ Name = "${var.name}-${count.index + 1}" }, var.tags)

  lifecycle {
    precondition {
      condition     = var.monitoring_interval == 0 || var.monitoring_role_arn != null
      error_message = "monitoring_role_arn is required when monitoring_interval is not 0."
    }
  }
}

# RDS-managed secrets rotate without a Lambda: the schedule alone is enough.
resource "aws_secretsmanager_secret_rotation" "master" {
  count = var.enable_master_password_rotation ? 1 : 0

  secret_id          = one(aws_rds_cluster.this.master_user_secret[*].secret_arn)
  rotate_immediately = false # the password is brand new at creation

  rotation_rules {
    automatically_after_days = var.master_password_rotation_days
  }
}
