mock_provider "aws" {
  source = "../testing/aws"
}

variables {
  name = "ingest-test"
}

run "recorder_records_everything" {
  command = plan

  assert {
    condition = (
      aws_config_configuration_recorder.this[0].recording_group[0].all_supported == true &&
      aws_config_configuration_recorder.this[0].recording_group[0].include_global_resource_types == true
    )
    error_message = "The recorder must record all supported resource types, global ones included by default."
  }
  assert {
    condition     = aws_config_configuration_recorder_status.this[0].is_enabled && aws_config_configuration_recorder_status.this[0].name == "ingest-test"
    error_message = "The recorder must be switched on."
  }
  assert {
    condition     = aws_config_delivery_channel.this[0].snapshot_delivery_properties[0].delivery_frequency == "TwentyFour_Hours"
    error_message = "Snapshots must be delivered every 24 hours by default."
  }
  assert {
    condition     = aws_iam_role_policy_attachment.config_role.policy_arn == "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole"
    error_message = "The recorder role must carry the AWS managed AWS_ConfigRole policy."
  }
  assert {
    condition = (
      jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Principal.Service == "config.amazonaws.com" &&
      jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "123456789012"
    )
    error_message = "Only this account's Config may assume the role."
  }
}

run "regional_recorder_without_globals" {
  command = plan

  variables {
    include_global_resource_types = false
    delivery_frequency            = "One_Hour"
  }

  assert {
    condition     = aws_config_configuration_recorder.this[0].recording_group[0].include_global_resource_types == false
    error_message = "include_global_resource_types = false must reach the recorder."
  }
  assert {
    condition     = aws_config_delivery_channel.this[0].snapshot_delivery_properties[0].delivery_frequency == "One_Hour"
    error_message = "delivery_frequency must reach the delivery channel."
  }
}

# The bucket itself is modules/s3-bucket (its tests cover public access and ownership); these
# assert what this module asks of it, through the child module's outputs.
run "encrypted_delivery_bucket" {
  command = plan

  assert {
    condition     = module.config_bucket.name == "ingest-test-config-123456789012"
    error_message = "The Config bucket must be named <name>-config-<account id>."
  }
  assert {
    condition     = module.config_bucket.versioning_status == "Enabled"
    error_message = "The Config bucket must be versioned."
  }
  assert {
    condition     = module.kms.rotation_enabled
    error_message = "The Config key must rotate."
  }
  assert {
    condition = (
      [for r in module.config_bucket.lifecycle_rules : r.noncurrent_version_expiration_days if r.id == "expire-noncurrent-versions"] == [90] &&
      [for r in module.config_bucket.lifecycle_rules : r.abort_incomplete_multipart_upload_days if r.id == "abort-incomplete-multipart-uploads"] == [7]
    )
    error_message = "Noncurrent versions must expire after 90 days and incomplete uploads be aborted after 7."
  }
}

run "bucket_policy_follows_aws_documentation" {
  command = plan

  assert {
    condition = {
      for s in jsondecode(module.config_bucket.policy).Statement : s.Sid => [s.Action, s.Resource]
      if s.Effect == "Allow"
      } == {
      AWSConfigBucketPermissionsCheck = ["s3:GetBucketAcl", "arn:aws:s3:::ingest-test-config-123456789012"]
      AWSConfigBucketExistenceCheck   = ["s3:ListBucket", "arn:aws:s3:::ingest-test-config-123456789012"]
      AWSConfigBucketDelivery         = ["s3:PutObject", "arn:aws:s3:::ingest-test-config-123456789012/AWSLogs/123456789012/Config/*"]
    }
    error_message = "The bucket policy must grant exactly the documented GetBucketAcl, ListBucket and PutObject statements."
  }
  assert {
    condition = alltrue([
      for s in jsondecode(module.config_bucket.policy).Statement :
      s.Principal.Service == "config.amazonaws.com" && s.Condition.StringEquals["aws:SourceAccount"] == "123456789012"
      if s.Effect == "Allow"
    ])
    error_message = "Every Allow must be for config.amazonaws.com of this account only."
  }
  assert {
    condition     = [for s in jsondecode(module.config_bucket.policy).Statement : s.Condition.Bool["aws:SecureTransport"] if s.Effect == "Deny"] == ["false"]
    error_message = "The bucket policy must deny requests without TLS."
  }
}

run "delivery_uses_module_key" {
  command = apply

  assert {
    condition     = aws_config_delivery_channel.this[0].s3_kms_key_arn == module.kms.arn
    error_message = "Deliveries must be encrypted with the module's key."
  }
  assert {
    condition     = module.config_bucket.sse_algorithm == "aws:kms" && module.config_bucket.kms_key_arn == module.kms.arn
    error_message = "The Config bucket must use SSE-KMS with the module's key."
  }
  assert {
    condition     = aws_config_delivery_channel.this[0].s3_bucket_name == module.config_bucket.name
    error_message = "The delivery channel must deliver to the module's bucket."
  }
  assert {
    condition     = output.recorder_name == "ingest-test" && output.bucket_name == "ingest-test-config-123456789012"
    error_message = "The outputs must name the recorder and the bucket."
  }
}

run "default_rules" {
  command = plan

  assert {
    condition = {
      for key, rule in aws_config_config_rule.this : key => one(rule.source).source_identifier
      } == {
      encrypted-volumes                        = "ENCRYPTED_VOLUMES"
      rds-storage-encrypted                    = "RDS_STORAGE_ENCRYPTED"
      rds-cluster-encrypted-at-rest            = "RDS_CLUSTER_ENCRYPTED_AT_REST"
      rds-instance-deletion-protection-enabled = "RDS_INSTANCE_DELETION_PROTECTION_ENABLED"
      rds-cluster-deletion-protection-enabled  = "RDS_CLUSTER_DELETION_PROTECTION_ENABLED"
      rds-instance-public-access-check         = "RDS_INSTANCE_PUBLIC_ACCESS_CHECK"
      restricted-ssh                           = "INCOMING_SSH_DISABLED"
      s3-bucket-public-read-prohibited         = "S3_BUCKET_PUBLIC_READ_PROHIBITED"
      s3-bucket-level-public-access-prohibited = "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED"
      s3-bucket-server-side-encryption-enabled = "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED"
      s3-bucket-ssl-requests-only              = "S3_BUCKET_SSL_REQUESTS_ONLY"
      ec2-imdsv2-check                         = "EC2_IMDSV2_CHECK"
      vpc-flow-logs-enabled                    = "VPC_FLOW_LOGS_ENABLED"
      vpc-default-security-group-closed        = "VPC_DEFAULT_SECURITY_GROUP_CLOSED"
      cloudwatch-log-group-encrypted           = "CLOUDWATCH_LOG_GROUP_ENCRYPTED"
      alb-http-to-https-redirection-check      = "ALB_HTTP_TO_HTTPS_REDIRECTION_CHECK"
      root-account-mfa-enabled                 = "ROOT_ACCOUNT_MFA_ENABLED"
      iam-root-access-key-check                = "IAM_ROOT_ACCESS_KEY_CHECK"
    }
    error_message = "Every default rule must exist with its managed source identifier."
  }
  assert {
    condition     = alltrue([for rule in aws_config_config_rule.this : one(rule.source).owner == "AWS"])
    error_message = "Default rules must be AWS managed rules."
  }
  assert {
    condition     = aws_config_config_rule.this["restricted-ssh"].name == "ingest-test-restricted-ssh" && output.rule_names["restricted-ssh"] == "ingest-test-restricted-ssh"
    error_message = "Rules must be named <name>-<key>."
  }
}

run "custom_rules_with_parameters" {
  command = plan

  variables {
    rules = {
      required-tags = {
        source_identifier = "REQUIRED_TAGS"
        input_parameters  = { tag1Key = "Environment" }
      }
      root-account-mfa-enabled = {
        source_identifier           = "ROOT_ACCOUNT_MFA_ENABLED"
        maximum_execution_frequency = "Twelve_Hours"
      }
    }
  }

  assert {
    condition     = length(aws_config_config_rule.this) == 2
    error_message = "A custom rules map must replace the default set."
  }
  assert {
    condition     = jsondecode(aws_config_config_rule.this["required-tags"].input_parameters) == { tag1Key = "Environment" }
    error_message = "input_parameters must be passed as JSON."
  }
  assert {
    condition     = aws_config_config_rule.this["root-account-mfa-enabled"].maximum_execution_frequency == "Twelve_Hours" && aws_config_config_rule.this["root-account-mfa-enabled"].input_parameters == null
    error_message = "maximum_execution_frequency must reach periodic rules; empty parameters stay unset."
  }
}

run "reject_delivery_frequency" {
  command = plan
  variables {
    delivery_frequency = "Daily"
  }
  expect_failures = [var.delivery_frequency]
}

run "reject_rule_identifier_format" {
  command = plan
  variables {
    rules = {
      encrypted-volumes = { source_identifier = "encrypted-volumes" }
    }
  }
  expect_failures = [var.rules]
}

run "reject_rule_key_format" {
  command = plan
  variables {
    rules = {
      "Encrypted Volumes" = { source_identifier = "ENCRYPTED_VOLUMES" }
    }
  }
  expect_failures = [var.rules]
}

run "reject_rule_frequency" {
  command = plan
  variables {
    rules = {
      root-account-mfa-enabled = { source_identifier = "ROOT_ACCOUNT_MFA_ENABLED", maximum_execution_frequency = "Hourly" }
    }
  }
  expect_failures = [var.rules]
}

run "reject_bucket_name" {
  command = plan
  variables {
    bucket_name = "Config_Bucket"
  }
  expect_failures = [var.bucket_name]
}

run "reject_bad_name" {
  command = plan
  variables {
    name = "ingest-"
  }
  expect_failures = [var.name]
}

# Finding 10 (issue 16): one recorder per account and region; with an existing one (Control
# Tower, organisation Config) the module must not create a second recorder or channel.
run "finding_10_existing_recorder_is_used" {
  command = plan

  variables {
    existing_recorder_name = "aws-controltower-BaselineConfigRecorder"
  }

  assert {
    condition = (
      length(aws_config_configuration_recorder.this) == 0 &&
      length(aws_config_delivery_channel.this) == 0 &&
      length(aws_config_configuration_recorder_status.this) == 0
    )
    error_message = "Finding 10: with existing_recorder_name no recorder, delivery channel or status may be created."
  }
  assert {
    condition     = output.recorder_name == "aws-controltower-BaselineConfigRecorder" && length(aws_config_config_rule.this) > 0
    error_message = "Finding 10: the rules stay, evaluated through the existing recorder, whose name is output."
  }
}
