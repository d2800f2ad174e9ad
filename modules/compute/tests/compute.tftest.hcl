# Unit tests with a mocked AWS provider: no credentials, no network.
mock_provider "aws" {
  source = "../testing/aws"

  mock_resource "aws_launch_template" {
    defaults = {
      id             = "lt-0123456789abcdef0"
      latest_version = 1
    }
  }
}

variables {
  name                  = "ingest-test"
  environment           = "test"
  subnet_ids            = ["subnet-0a1b2c3d", "subnet-0e1f2a3b"]
  security_group_ids    = ["sg-0123abcd"]
  instance_profile_name = "ingest-test-app"
  ami_id                = "ami-0123456789abcdef0"
  target_group_arns = {
    blue  = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ingest-test-blue/0123456789abcdef"
    green = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ingest-test-green/fedcba9876543210"
  }
  secret_arns = {
    api-keys = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ingest-test/api-keys-AbCdEf"
  }
  database_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-abc-123456"
  database_host       = "ingest-test.cluster-abc.eu-west-1.rds.amazonaws.com"
  queue_url           = "https://sqs.eu-west-1.amazonaws.com/123456789012/ingest-test"
  tags                = { Environment = "test" }
}

run "launch_templates_are_hardened" {
  command = plan

  assert {
    condition     = toset(keys(aws_launch_template.this)) == toset(["blue", "green"])
    error_message = "One launch template per colour is expected."
  }

  assert {
    condition = alltrue([
      for lt in aws_launch_template.this :
      lt.metadata_options[0].http_tokens == "required" && lt.metadata_options[0].http_put_response_hop_limit == 1 && lt.metadata_options[0].http_endpoint == "enabled" && lt.metadata_options[0].instance_metadata_tags == "enabled"
    ])
    error_message = "IMDSv2 must be required with a hop limit of 1 and metadata tags on."
  }

  assert {
    condition = alltrue([
      for lt in aws_launch_template.this :
      lt.block_device_mappings[0].device_name == "/dev/xvda" && lt.block_device_mappings[0].ebs[0].volume_type == "gp3" && lt.block_device_mappings[0].ebs[0].encrypted == "true" && lt.block_device_mappings[0].ebs[0].volume_size == 20 && lt.block_device_mappings[0].ebs[0].delete_on_termination == "true"
    ])
    error_message = "The root volume must be an encrypted 20 GiB gp3 volume deleted with the instance."
  }

  assert {
    condition = alltrue([
      for lt in aws_launch_template.this :
      lt.monitoring[0].enabled && lt.iam_instance_profile[0].name == "ingest-test-app" && lt.key_name == null && lt.vpc_security_group_ids == toset(["sg-0123abcd"])
    ])
    error_message = "Detailed monitoring, the instance profile, the app security group and no key pair are expected."
  }

  assert {
    condition     = aws_launch_template.this["blue"].image_id == "ami-0123456789abcdef0" && aws_launch_template.this["blue"].instance_type == "t3.small"
    error_message = "The launch templates must start from ami_id with the default instance type."
  }

  assert {
    condition = alltrue([
      for colour, lt in aws_launch_template.this :
      alltrue([for ts in lt.tag_specifications : ts.tags["Colour"] == colour && ts.tags["Name"] == "ingest-test-${colour}" && ts.tags["Environment"] == "test"])
      && toset([for ts in lt.tag_specifications : ts.resource_type]) == toset(["instance", "volume"])
    ])
    error_message = "Instances and volumes must be tagged with Name, var.tags and their colour."
  }

  assert {
    condition     = aws_launch_template.this["blue"].tags["Name"] == "ingest-test-blue"
    error_message = "The launch template itself is tagged by default."
  }
}

run "user_data_carries_the_stack_wiring" {
  command = plan

  assert {
    condition     = startswith(base64decode(aws_launch_template.this["blue"].user_data), "#!/bin/bash") && strcontains(base64decode(aws_launch_template.this["blue"].user_data), "set -euo pipefail")
    error_message = "User data must be a strict bash script."
  }

  assert {
    condition = alltrue([
      for line in [
        "INGEST_ENV=test",
        "INGEST_COLOUR=blue",
        "AWS_REGION=eu-west-1",
        "INGEST_SQS_QUEUE_URL=https://sqs.eu-west-1.amazonaws.com/123456789012/ingest-test",
        "INGEST_DATABASE_SECRET_ARN=arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-abc-123456",
        "INGEST_DATABASE_HOST=ingest-test.cluster-abc.eu-west-1.rds.amazonaws.com",
        "INGEST_DATABASE_APP_USER=ingest_app",
        "INGEST_DATABASE_APP_AUTH=iam",
        "INGEST_DATABASE_SSL_CA=/opt/ingest/rds-global-bundle.pem",
        "INGEST_API_KEYS_SECRET_ARN=arn:aws:secretsmanager:eu-west-1:123456789012:secret:ingest-test/api-keys-AbCdEf",
        "INGEST_METRIC_NAMESPACE=Ingest/test",
        "INGEST_EMF_NAMESPACE=Ingest/test",
        "INGEST_LOG_GROUP_APP=/ingest/ingest-test/app",
        "INGEST_LOG_GROUP_SYSTEM=/ingest/ingest-test/system",
      ] : contains(split("\n", base64decode(aws_launch_template.this["blue"].user_data)), line)
    ])
    error_message = "The blue env file must carry env, colour, region, queue URL, secret ARNs, namespace and log groups."
  }

  assert {
    condition     = contains(split("\n", base64decode(aws_launch_template.this["green"].user_data)), "INGEST_COLOUR=green")
    error_message = "The green template must say green."
  }

  assert {
    condition     = strcontains(base64decode(aws_launch_template.this["blue"].user_data), "install -m 0640 -o root -g ingest /dev/null /etc/ingest/env")
    error_message = "The env file must be created with mode 0640."
  }

  assert {
    condition     = strcontains(base64decode(aws_launch_template.this["blue"].user_data), "systemctl enable --now ingest-web ingest-worker")
    error_message = "User data must start the web and worker units."
  }

  assert {
    condition     = strcontains(base64decode(aws_launch_template.this["blue"].user_data), "\"log_group_name\":\"/ingest/ingest-test/nginx-access\"")
    error_message = "The CloudWatch agent must ship nginx access logs to the module's group."
  }

  assert {
    condition     = strcontains(base64decode(aws_launch_template.this["blue"].user_data), "\"mem_used_percent\"") && strcontains(base64decode(aws_launch_template.this["blue"].user_data), "\"AutoScalingGroupName\":\"$${aws:AutoScalingGroupName}\"")
    error_message = "The CloudWatch agent must report memory and disk use per Auto Scaling group."
  }
}

run "groups_are_blue_and_green_behind_their_own_target_groups" {
  command = plan

  assert {
    condition     = aws_autoscaling_group.this["blue"].target_group_arns == toset([var.target_group_arns["blue"]]) && aws_autoscaling_group.this["green"].target_group_arns == toset([var.target_group_arns["green"]])
    error_message = "Each colour must register with its own target group only."
  }

  assert {
    condition     = alltrue([for asg in aws_autoscaling_group.this : asg.health_check_type == "ELB" && asg.health_check_grace_period == 300])
    error_message = "Groups must use ELB health checks with a 300 s grace period."
  }

  assert {
    condition     = alltrue([for asg in aws_autoscaling_group.this : asg.vpc_zone_identifier == toset(var.subnet_ids)])
    error_message = "Groups must span all the private subnets."
  }

  assert {
    condition = (
      aws_autoscaling_group.this["blue"].min_size == 2 && aws_autoscaling_group.this["blue"].max_size == 6 && aws_autoscaling_group.this["blue"].desired_capacity == 2
      && aws_autoscaling_group.this["green"].min_size == 0 && aws_autoscaling_group.this["green"].max_size == 0 && aws_autoscaling_group.this["green"].desired_capacity == 0
    )
    error_message = "Blue starts at the given capacity, green starts empty."
  }

  assert {
    condition     = alltrue([for asg in aws_autoscaling_group.this : asg.default_instance_warmup == 300 && asg.wait_for_capacity_timeout == "10m" && !asg.protect_from_scale_in])
    error_message = "Warmup 300 s, a 10m capacity wait and no scale-in protection are the defaults."
  }

  assert {
    condition     = alltrue([for asg in aws_autoscaling_group.this : asg.instance_maintenance_policy[0].min_healthy_percentage == 100 && asg.instance_maintenance_policy[0].max_healthy_percentage == 200])
    error_message = "Replacements must launch before terminating (min healthy 100 %)."
  }

  assert {
    condition     = alltrue([for asg in aws_autoscaling_group.this : contains(asg.enabled_metrics, "GroupInServiceInstances")])
    error_message = "Group metrics (used by the backlog policy) must be enabled."
  }

  assert {
    condition     = alltrue([for colour, asg in aws_autoscaling_group.this : asg.name == "ingest-test-${colour}"])
    error_message = "Groups are named <name>-<colour>."
  }
}

run "template_versions_and_outputs" {
  command = apply

  assert {
    condition     = aws_autoscaling_group.this["blue"].launch_template[0].id == aws_launch_template.this["blue"].id && aws_autoscaling_group.this["blue"].launch_template[0].version == "1"
    error_message = "Each group starts on its own template's latest version."
  }

  assert {
    condition     = output.asg_names == { blue = "ingest-test-blue", green = "ingest-test-green" }
    error_message = "asg_names must map colour to group name."
  }

  assert {
    condition     = output.launch_template_latest_versions == { blue = 1, green = 1 }
    error_message = "launch_template_latest_versions must map colour to version."
  }

  assert {
    condition     = length(output.log_group_arns) == 4 && output.kms_key_arn == module.kms.arn
    error_message = "Four log group ARNs and the key ARN are expected."
  }
}

run "scaling_policies_per_colour" {
  command = plan

  assert {
    condition     = toset(keys(aws_autoscaling_policy.cpu)) == toset(["blue", "green"]) && toset(keys(aws_autoscaling_policy.queue_depth)) == toset(["blue", "green"])
    error_message = "Each colour needs a CPU and a queue-depth policy."
  }

  assert {
    condition = alltrue([
      for p in aws_autoscaling_policy.cpu :
      p.policy_type == "TargetTrackingScaling" && p.target_tracking_configuration[0].target_value == 60 && p.target_tracking_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ASGAverageCPUUtilization"
    ])
    error_message = "CPU target tracking at 60 % is expected."
  }

  assert {
    condition = alltrue([
      for colour, p in aws_autoscaling_policy.queue_depth :
      p.target_tracking_configuration[0].target_value == 100 && p.autoscaling_group_name == "ingest-test-${colour}"
    ])
    error_message = "Queue-depth target tracking at 100 per instance is expected on each group."
  }

  assert {
    condition = alltrue([
      for p in aws_autoscaling_policy.queue_depth : [
        for m in p.target_tracking_configuration[0].customized_metric_specification[0].metrics : {
          return_data = m.return_data
          namespace   = m.metric_stat[0].metric[0].namespace
          metric_name = m.metric_stat[0].metric[0].metric_name
          dimensions  = [for d in m.metric_stat[0].metric[0].dimensions : "${d.name}=${d.value}"]
        } if m.id == "depth"
        ] == [{
          return_data = false
          namespace   = "Ingest/test"
          metric_name = "QueueDepth"
          dimensions  = ["Environment=test"]
      }]
    ])
    error_message = "The policy must read QueueDepth from Ingest/<env> with the Environment dimension."
  }

  assert {
    condition = alltrue([
      for p in aws_autoscaling_policy.queue_depth : anytrue([
        for m in p.target_tracking_configuration[0].customized_metric_specification[0].metrics :
        m.expression == "depth / instances" && m.return_data
      ])
    ])
    error_message = "The tracked value must be the backlog per in-service instance."
  }
}

run "log_groups_are_encrypted_and_kept" {
  command = apply

  assert {
    condition     = toset([for g in aws_cloudwatch_log_group.this : g.name]) == toset(["/ingest/ingest-test/app", "/ingest/ingest-test/nginx-access", "/ingest/ingest-test/nginx-error", "/ingest/ingest-test/system"])
    error_message = "app, nginx access/error and system log groups are expected under /ingest/<name>/."
  }

  assert {
    condition     = alltrue([for g in aws_cloudwatch_log_group.this : g.kms_key_id == module.kms.arn && g.retention_in_days == 365])
    error_message = "Log groups must use the module's key and keep logs 365 days."
  }

  assert {
    condition     = module.kms.rotation_enabled && jsondecode(module.kms.policy).Statement[1].Principal.Service == "logs.eu-west-1.amazonaws.com"
    error_message = "The key must rotate and admit CloudWatch Logs of the region."
  }

  assert {
    condition     = endswith(jsondecode(module.kms.policy).Statement[1].Condition.ArnLike["kms:EncryptionContext:aws:logs:arn"], ":log-group:/ingest/ingest-test/*")
    error_message = "CloudWatch Logs may use the key only for this module's log groups."
  }
}

run "local_emulator_switches" {
  command = plan

  variables {
    create_scaling_policies            = false
    tag_launch_template                = false
    default_instance_warmup            = null
    enable_instance_maintenance_policy = false
    wait_for_capacity_timeout          = "0"
  }

  assert {
    condition     = length(aws_autoscaling_policy.cpu) == 0 && length(aws_autoscaling_policy.queue_depth) == 0
    error_message = "create_scaling_policies = false must create no policies."
  }

  assert {
    condition     = alltrue([for lt in aws_launch_template.this : lt.tags == null]) && alltrue([for lt in aws_launch_template.this : length(lt.tag_specifications) == 2])
    error_message = "tag_launch_template = false must leave the template untagged but still tag instances and volumes."
  }

  assert {
    condition     = alltrue([for asg in aws_autoscaling_group.this : asg.default_instance_warmup == null && length(asg.instance_maintenance_policy) == 0 && asg.wait_for_capacity_timeout == "0"])
    error_message = "The emulator switches must reach the groups."
  }
}

run "customer_managed_root_volume_key" {
  command = plan

  variables {
    root_volume_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/99999999-8888-7777-6666-555555555555"
    root_volume_size        = 40
  }

  assert {
    condition     = aws_launch_template.this["blue"].block_device_mappings[0].ebs[0].kms_key_id == var.root_volume_kms_key_arn && aws_launch_template.this["blue"].block_device_mappings[0].ebs[0].volume_size == 40
    error_message = "root_volume_kms_key_arn and root_volume_size must reach the root volume."
  }
}

# ---- invalid inputs ---------------------------------------------------------------------------

run "instance_type_without_size" {
  command = plan
  variables { instance_type = "t3small" }
  expect_failures = [var.instance_type]
}

run "instance_type_upper_case" {
  command = plan
  variables { instance_type = "T3.small" }
  expect_failures = [var.instance_type]
}

run "min_size_above_max_size" {
  command = plan
  variables {
    min_size         = 4
    max_size         = 2
    desired_capacity = 2
  }
  expect_failures = [aws_autoscaling_group.this]
}

run "desired_outside_min_max" {
  command = plan
  variables {
    desired_capacity = 8
  }
  expect_failures = [aws_autoscaling_group.this]
}

run "bad_ami_id" {
  command = plan
  variables { ami_id = "ami-123" }
  expect_failures = [var.ami_id]
}

run "target_groups_without_green" {
  command = plan
  variables {
    target_group_arns = {
      blue = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ingest-test-blue/0123456789abcdef"
    }
  }
  expect_failures = [var.target_group_arns]
}

run "target_groups_with_other_colour" {
  command = plan
  variables {
    target_group_arns = {
      blue = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ingest-test-blue/0123456789abcdef"
      red  = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ingest-test-red/0123456789abcdef"
    }
  }
  expect_failures = [var.target_group_arns]
}

run "target_group_not_an_arn" {
  command = plan
  variables {
    target_group_arns = { blue = "blue-tg", green = "green-tg" }
  }
  expect_failures = [var.target_group_arns]
}

run "tag_key_with_space" {
  command = plan
  variables { tags = { "cost centre" = "x" } }
  expect_failures = [var.tags]
}

run "single_subnet" {
  command = plan
  variables { subnet_ids = ["subnet-0a1b2c3d"] }
  expect_failures = [var.subnet_ids]
}

run "bad_capacity_wait" {
  command = plan
  variables { wait_for_capacity_timeout = "ten minutes" }
  expect_failures = [var.wait_for_capacity_timeout]
}

run "cpu_target_out_of_range" {
  command = plan
  variables { cpu_target = 95 }
  expect_failures = [var.cpu_target]
}
