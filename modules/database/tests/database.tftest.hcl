# Unit tests with a mocked AWS provider: no credentials, no network.
mock_provider "aws" {
  source = "../testing/aws"

  mock_resource "aws_rds_cluster" {
    defaults = {
      arn                 = "arn:aws:rds:eu-west-1:123456789012:cluster:ingest-test"
      cluster_resource_id = "cluster-ABCDEFGHIJKLMNOP"
      endpoint            = "ingest-test.cluster-abc.eu-west-1.rds.amazonaws.com"
      reader_endpoint     = "ingest-test.cluster-ro-abc.eu-west-1.rds.amazonaws.com"
      master_user_secret = [{
        secret_arn    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-abc-123456"
        kms_key_id    = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
        secret_status = "active"
      }]
    }
  }
}

variables {
  name                = "ingest-test"
  subnet_ids          = ["subnet-0a1b2c3d", "subnet-0e1f2a3b"]
  security_group_ids  = ["sg-0123abcd"]
  availability_zones  = ["eu-west-1a", "eu-west-1b"]
  monitoring_role_arn = "arn:aws:iam::123456789012:role/ingest-test-rds-monitoring"
  tags                = { Environment = "test" }
}

run "defaults_are_a_secure_serverless_v2_cluster" {
  command = apply

  assert {
    condition     = aws_rds_cluster.this.engine == "aurora-mysql" && aws_rds_cluster.this.engine_mode == "provisioned"
    error_message = "The cluster must be Aurora MySQL in provisioned mode (Serverless v2)."
  }

  assert {
    condition     = aws_rds_cluster.this.engine_version == "8.0.mysql_aurora.3.08.2"
    error_message = "The default engine version must be Aurora MySQL 3.08.2."
  }

  assert {
    condition     = length(aws_rds_cluster_instance.this) == 2 && alltrue([for i in aws_rds_cluster_instance.this : i.instance_class == "db.serverless"])
    error_message = "Two db.serverless instances (a writer and a reader) are expected by default."
  }

  assert {
    condition     = [for i in aws_rds_cluster_instance.this : i.availability_zone] == ["eu-west-1a", "eu-west-1b"]
    error_message = "The instances must be spread over the given AZs."
  }

  assert {
    condition     = aws_rds_cluster.this.serverlessv2_scaling_configuration[0].min_capacity == 0.5 && aws_rds_cluster.this.serverlessv2_scaling_configuration[0].max_capacity == 8
    error_message = "Default scaling must be 0.5-8 ACU."
  }

  assert {
    condition     = aws_rds_cluster.this.storage_encrypted && aws_rds_cluster.this.kms_key_id == module.kms.arn
    error_message = "Storage must be encrypted with the module's key."
  }

  assert {
    condition     = aws_rds_cluster.this.manage_master_user_password && aws_rds_cluster.this.master_user_secret_kms_key_id == module.kms.arn
    error_message = "The master password must be managed by RDS and its secret encrypted with the module's key."
  }

  assert {
    condition     = module.kms.rotation_enabled
    error_message = "The KMS key must rotate."
  }

  assert {
    condition     = jsondecode(module.kms.policy).Statement[1].Principal.Service == "logs.eu-west-1.amazonaws.com"
    error_message = "The key policy must admit CloudWatch Logs of the current region."
  }

  assert {
    condition     = endswith(jsondecode(module.kms.policy).Statement[1].Condition.ArnLike["kms:EncryptionContext:aws:logs:arn"], ":log-group:/aws/rds/cluster/ingest-test/*")
    error_message = "CloudWatch Logs may use the key only for this cluster's log groups."
  }

  assert {
    condition     = aws_rds_cluster.this.deletion_protection && !aws_rds_cluster.this.skip_final_snapshot
    error_message = "Deletion protection and a final snapshot must be the defaults."
  }

  assert {
    condition     = aws_rds_cluster.this.iam_database_authentication_enabled && aws_rds_cluster.this.copy_tags_to_snapshot
    error_message = "IAM database authentication and copy_tags_to_snapshot must be on."
  }

  assert {
    condition     = aws_rds_cluster.this.backup_retention_period == 7 && aws_rds_cluster.this.backtrack_window == 0
    error_message = "Finding 17 (issue 16): backups kept 7 days, and backtrack off by default (rejected on some Aurora MySQL 3 versions, costs change records, rules out binlog replication)."
  }

  assert {
    condition     = toset(aws_rds_cluster.this.enabled_cloudwatch_logs_exports) == toset(["audit", "error", "slowquery"])
    error_message = "audit, error and slowquery logs must be exported by default."
  }

  assert {
    condition = alltrue([
      for g in aws_cloudwatch_log_group.exports : g.kms_key_id == module.kms.arn && g.retention_in_days == 365
    ]) && toset(keys(aws_cloudwatch_log_group.exports)) == toset(["audit", "error", "slowquery"])
    error_message = "Each exported log type needs its own KMS-encrypted log group kept 365 days."
  }

  assert {
    condition     = aws_cloudwatch_log_group.exports["audit"].name == "/aws/rds/cluster/ingest-test/audit"
    error_message = "Log groups must use the name RDS exports to."
  }

  assert {
    condition = alltrue([
      for i in aws_rds_cluster_instance.this :
      i.performance_insights_enabled && i.performance_insights_kms_key_id == module.kms.arn && i.performance_insights_retention_period == 7
    ])
    error_message = "Performance Insights must be on, encrypted with the module's key, kept 7 days."
  }

  assert {
    condition = alltrue([
      for i in aws_rds_cluster_instance.this :
      i.monitoring_interval == 60 && i.monitoring_role_arn == var.monitoring_role_arn && !i.publicly_accessible && i.auto_minor_version_upgrade
    ])
    error_message = "Instances need enhanced monitoring every 60 s, no public access and automatic minor upgrades."
  }

  assert {
    condition     = aws_rds_cluster.this.db_cluster_parameter_group_name == "ingest-test-cluster" && alltrue([for i in aws_rds_cluster_instance.this : i.db_parameter_group_name == "ingest-test-instance"])
    error_message = "The cluster and instances must use the module's parameter groups."
  }

  assert {
    condition = {
      for p in aws_rds_cluster_parameter_group.this[0].parameter : p.name => p.value
      } == {
      character_set_server     = "utf8mb4"
      collation_server         = "utf8mb4_0900_ai_ci"
      require_secure_transport = "ON"
      server_audit_logging     = "1"
      server_audit_events      = "CONNECT,QUERY_DCL,QUERY_DDL"
    }
    error_message = "Cluster parameters: utf8mb4, TLS only, audit logging; no binlog by default."
  }

  assert {
    condition = {
      for p in aws_db_parameter_group.this[0].parameter : p.name => p.value
    } == { slow_query_log = "1", long_query_time = "1", log_output = "FILE" }
    error_message = "Instance parameters: slow query log with long_query_time 1 s, written to files."
  }

  assert {
    condition     = aws_rds_cluster_parameter_group.this[0].family == "aurora-mysql8.0" && aws_db_parameter_group.this[0].family == "aurora-mysql8.0"
    error_message = "Parameter groups must be of family aurora-mysql8.0."
  }

  assert {
    condition     = length(aws_secretsmanager_secret_rotation.master) == 1 && aws_secretsmanager_secret_rotation.master[0].rotation_rules[0].automatically_after_days == 7
    error_message = "The master secret must rotate every 7 days."
  }

  assert {
    condition     = aws_secretsmanager_secret_rotation.master[0].secret_id == output.master_user_secret_arn && output.master_user_secret_arn == "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-abc-123456"
    error_message = "The rotation schedule and the output must point at the RDS-managed secret."
  }

  assert {
    condition     = aws_rds_cluster.this.tags["Name"] == "ingest-test" && aws_rds_cluster.this.tags["Environment"] == "test"
    error_message = "Tags must carry Name and var.tags."
  }
}

run "min_capacity_zero_enables_auto_pause" {
  command = plan

  variables {
    min_capacity             = 0
    seconds_until_auto_pause = 600
  }

  assert {
    condition     = aws_rds_cluster.this.serverlessv2_scaling_configuration[0].min_capacity == 0 && aws_rds_cluster.this.serverlessv2_scaling_configuration[0].seconds_until_auto_pause == 600
    error_message = "min_capacity 0 must pause after seconds_until_auto_pause."
  }
}

run "capacity_range_is_configurable" {
  command = plan

  variables {
    min_capacity = 2
    max_capacity = 64
  }

  assert {
    condition     = aws_rds_cluster.this.serverlessv2_scaling_configuration[0].min_capacity == 2 && aws_rds_cluster.this.serverlessv2_scaling_configuration[0].max_capacity == 64
    error_message = "min/max capacity must reach the cluster."
  }
}

run "instances_cycle_over_the_azs" {
  command = plan

  variables {
    instance_count = 3
  }

  assert {
    condition     = [for i in aws_rds_cluster_instance.this : i.availability_zone] == ["eu-west-1a", "eu-west-1b", "eu-west-1a"]
    error_message = "Instance i must land in availability_zones[i % length]."
  }
}

run "binlog_and_general_log" {
  command = plan

  variables {
    enable_binlog                   = true
    enabled_cloudwatch_logs_exports = ["error", "general"]
  }

  assert {
    condition     = contains([for p in aws_rds_cluster_parameter_group.this[0].parameter : "${p.name}=${p.value}/${p.apply_method}"], "binlog_format=ROW/pending-reboot")
    error_message = "enable_binlog must set binlog_format ROW (pending-reboot: a static parameter)."
  }

  assert {
    condition     = !contains([for p in aws_rds_cluster_parameter_group.this[0].parameter : p.name], "server_audit_logging")
    error_message = "Without the audit export the audit plugin stays off."
  }

  assert {
    condition     = contains([for p in aws_db_parameter_group.this[0].parameter : "${p.name}=${p.value}"], "general_log=1")
    error_message = "Exporting the general log must turn it on."
  }
}

run "local_emulator_switches" {
  command = plan

  variables {
    enable_custom_parameters        = false
    enable_master_password_rotation = false
    performance_insights_enabled    = false
  }

  assert {
    condition     = length(aws_rds_cluster_parameter_group.this) == 0 && length(aws_db_parameter_group.this) == 0
    error_message = "enable_custom_parameters = false must create no parameter groups."
  }

  assert {
    condition     = length(aws_secretsmanager_secret_rotation.master) == 0
    error_message = "enable_master_password_rotation = false must create no rotation schedule."
  }

  assert {
    condition     = alltrue([for i in aws_rds_cluster_instance.this : !i.performance_insights_enabled])
    error_message = "performance_insights_enabled = false must reach the instances."
  }
}

run "rotation_days_are_configurable" {
  command = plan

  variables {
    master_password_rotation_days = 30
  }

  assert {
    condition     = aws_secretsmanager_secret_rotation.master[0].rotation_rules[0].automatically_after_days == 30
    error_message = "master_password_rotation_days must reach the rotation schedule."
  }
}

run "production_can_be_torn_down_when_asked" {
  command = plan

  variables {
    deletion_protection = false
    skip_final_snapshot = true
  }

  assert {
    condition     = !aws_rds_cluster.this.deletion_protection && aws_rds_cluster.this.skip_final_snapshot
    error_message = "deletion_protection and skip_final_snapshot must reach the cluster."
  }
}

# ---- invalid inputs ---------------------------------------------------------------------------

run "min_capacity_not_in_half_steps" {
  command = plan
  variables { min_capacity = 0.25 }
  expect_failures = [var.min_capacity]
}

run "min_capacity_above_256" {
  command = plan
  variables { min_capacity = 300 }
  expect_failures = [var.min_capacity]
}

run "max_capacity_below_1" {
  command = plan
  variables { max_capacity = 0.5 }
  expect_failures = [var.max_capacity]
}

run "max_capacity_above_256" {
  command = plan
  variables { max_capacity = 257 }
  expect_failures = [var.max_capacity]
}

run "max_capacity_below_min_capacity" {
  command = plan
  variables {
    min_capacity = 16
    max_capacity = 8
  }
  expect_failures = [aws_rds_cluster.this]
}

run "backup_retention_zero" {
  command = plan
  variables { backup_retention_days = 0 }
  expect_failures = [var.backup_retention_days]
}

run "backup_retention_36" {
  command = plan
  variables { backup_retention_days = 36 }
  expect_failures = [var.backup_retention_days]
}

run "bad_monitoring_interval" {
  command = plan
  variables { monitoring_interval = 2 }
  expect_failures = [var.monitoring_interval]
}

run "monitoring_without_role" {
  command = plan
  variables { monitoring_role_arn = null }
  expect_failures = [aws_rds_cluster_instance.this]
}

run "bad_log_type" {
  command = plan
  variables { enabled_cloudwatch_logs_exports = ["audit", "postgresql"] }
  expect_failures = [var.enabled_cloudwatch_logs_exports]
}

run "bad_engine_version" {
  command = plan
  variables { engine_version = "5.7.mysql_aurora.2.11.2" }
  expect_failures = [var.engine_version]
}

run "bad_name" {
  command = plan
  variables { name = "Ingest--Prod" }
  expect_failures = [var.name]
}

run "single_subnet" {
  command = plan
  variables { subnet_ids = ["subnet-0a1b2c3d"] }
  expect_failures = [var.subnet_ids]
}

# Finding 3 (issue 16): a second teardown of a re-created cluster must not collide with the
# snapshot the first teardown left, so the name carries the cluster's creation time.
run "finding_3_final_snapshot_name_is_unique_per_cluster" {
  command = apply

  assert {
    condition     = can(regex("^ingest-test-final-[0-9]{14}$", aws_rds_cluster.this.final_snapshot_identifier))
    error_message = "Finding 3: the final snapshot must be named <name>-final-<creation time>, not a fixed <name>-final."
  }
}

run "backtrack_when_asked" {
  command = plan

  variables { backtrack_window_hours = 24 }

  assert {
    condition     = aws_rds_cluster.this.backtrack_window == 86400
    error_message = "backtrack_window_hours must reach the cluster in seconds."
  }
}

run "bad_backtrack_window" {
  command = plan
  variables { backtrack_window_hours = 73 }
  expect_failures = [var.backtrack_window_hours]
}

run "bad_performance_insights_retention" {
  command = plan
  variables { performance_insights_retention_days = 30 }
  expect_failures = [var.performance_insights_retention_days]
}
