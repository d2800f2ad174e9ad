data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id       = data.aws_caller_identity.current.account_id
  partition        = data.aws_partition.current.partition
  region           = data.aws_region.current.id # .name is deprecated in provider 6.x
  metric_namespace = coalesce(var.metric_namespace, "Ingest/${var.environment}")

  log_group_prefix = "/ingest/${var.name}"
  log_groups = {
    app          = "${local.log_group_prefix}/app"
    nginx_access = "${local.log_group_prefix}/nginx-access"
    nginx_error  = "${local.log_group_prefix}/nginx-error"
    system       = "${local.log_group_prefix}/system"
  }

  # Terraform sets each colour's capacity once, at creation: blue serves, green waits empty
  # (max 0, so green's scaling policies cannot start instances either). opsctl owns them after.
  initial_capacity = {
    blue  = { min = var.min_size, max = var.max_size, desired = var.desired_capacity }
    green = { min = 0, max = 0, desired = 0 }
  }

  enabled_metrics = [
    "GroupDesiredCapacity",
    "GroupInServiceInstances",
    "GroupMaxSize",
    "GroupMinSize",
    "GroupPendingInstances",
    "GroupStandbyInstances",
    "GroupTerminatingInstances",
    "GroupTotalInstances",
  ]

  # CloudWatch agent configuration: which files go to which log group. EMF lines from the app
  # arrive on the agent's EMF endpoint and land in the app group (AWS_EMF_LOG_GROUP_NAME).
  cloudwatch_agent_config = jsonencode({
    agent = { run_as_user = "root" }
    # Memory and root-disk use, which EC2 does not report by itself, per group and instance.
    # In the app's namespace: the instance role may PutMetricData there and nowhere else.
    metrics = {
      namespace = local.metric_namespace
      append_dimensions = {
        AutoScalingGroupName = "$${aws:AutoScalingGroupName}"
        InstanceId           = "$${aws:InstanceId}"
      }
      aggregation_dimensions = [["AutoScalingGroupName"]]
      metrics_collected = {
        mem  = { measurement = ["mem_used_percent"] }
        disk = { measurement = ["used_percent"], resources = ["/"], ignore_file_system_types = ["sysfs", "devtmpfs", "tmpfs"] }
      }
    }
    logs = {
      metrics_collected = { emf = {} }
      logs_collected = {
        files = {
          collect_list = [
            { file_path = "/var/log/ingest/*.log", log_group_name = local.log_groups.app, log_stream_name = "{instance_id}/app" },
            { file_path = "/var/log/nginx/access.log", log_group_name = local.log_groups.nginx_access, log_stream_name = "{instance_id}" },
            { file_path = "/var/log/nginx/error.log", log_group_name = local.log_groups.nginx_error, log_stream_name = "{instance_id}" },
            { file_path = "/var/log/messages", log_group_name = local.log_groups.system, log_stream_name = "{instance_id}/messages" },
            { file_path = "/var/log/cloud-init-output.log", log_group_name = local.log_groups.system, log_stream_name = "{instance_id}/cloud-init" },
          ]
        }
      }
    }
  })

  # INGEST_<NAME>_SECRET_ARN for every application secret (api-keys -> INGEST_API_KEYS_SECRET_ARN).
  secret_env = {
    for name, arn in var.secret_arns : "INGEST_${upper(replace(name, "-", "_"))}_SECRET_ARN" => arn
  }
}

# ---------------------------------------------------------------------------------------------
# Log groups the instances write to, encrypted with the module's key.
# ---------------------------------------------------------------------------------------------
module "kms" {
  source = "../kms-key"

  name        = "${var.name}-compute"
  description = "${var.name} instance log groups"
  tags        = var.tags

  policy_statements = [{
    Sid       = "CloudWatchLogs"
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

resource "aws_cloudwatch_log_group" "this" {
  for_each = local.log_groups

  name              = each.value
  retention_in_days = var.log_retention_days
  kms_key_id        = module.kms.arn

  tags = merge({ Name = each.value }, var.tags)
}

# ---------------------------------------------------------------------------------------------
# One launch template per colour.
# ---------------------------------------------------------------------------------------------
resource "aws_launch_template" "this" {
  for_each = local.initial_capacity

  name                   = "${var.name}-${each.key}"
  description            = "${var.name} ${each.key} instances"
  image_id               = var.ami_id
  instance_type          = var.instance_type
  vpc_security_group_ids = var.security_group_ids
  update_default_version = true
  # No key_name: shell access is through SSM Session Manager only.

  user_data = base64encode(templatefile("${path.module}/templates/user-data.sh.tftpl", {
    environment             = var.environment
    colour                  = each.key
    region                  = local.region
    database_secret_arn     = var.database_secret_arn
    database_host           = var.database_host
    database_port           = var.database_port
    database_name           = var.database_name
    database_app_user       = var.database_app_user
    secret_env              = local.secret_env
    queue_url               = var.queue_url
    metric_namespace        = local.metric_namespace
    log_groups              = local.log_groups
    cloudwatch_agent_config = local.cloudwatch_agent_config
  }))

  iam_instance_profile {
    name = var.instance_profile_name
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required" # IMDSv2 only
    http_put_response_hop_limit = 1          # containers on the host cannot reach the credentials
    instance_metadata_tags      = "enabled"
  }

  monitoring {
    enabled = true
  }

  block_device_mappings {
    device_name = var.root_device_name

    ebs {
      volume_type           = "gp3"
      volume_size           = var.root_volume_size
      encrypted             = true
      kms_key_id            = var.root_volume_kms_key_arn # null = the AWS-managed aws/ebs key
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge({ Name = "${var.name}-${each.key}" }, var.tags, { Colour = each.key })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge({ Name = "${var.name}-${each.key}" }, var.tags, { Colour = each.key })
  }

  tags = var.tag_launch_template ? merge({ Name = "${var.name}-${each.key}" }, var.tags) : null

  lifecycle {
    # opsctl rolls a new AMI out by adding a template version; Terraform must not undo it.
    ignore_changes = [image_id]
  }
}

# ---------------------------------------------------------------------------------------------
# Auto Scaling groups blue and green.
# ---------------------------------------------------------------------------------------------
resource "aws_autoscaling_group" "this" {
  for_each = local.initial_capacity

  name                = "${var.name}-${each.key}"
  vpc_zone_identifier = var.subnet_ids
  min_size            = each.value.min
  max_size            = each.value.max
  desired_capacity    = each.value.desired

  launch_template {
    id      = aws_launch_template.this[each.key].id
    version = aws_launch_template.this[each.key].latest_version
  }

  # target_group_arns rather than aws_autoscaling_traffic_source_attachment: moto lacks
  # AttachTrafficSources, and one attachment style per group avoids the two fighting.
  target_group_arns         = [var.target_group_arns[each.key]]
  health_check_type         = "ELB"
  health_check_grace_period = var.health_check_grace_period
  default_instance_warmup   = var.default_instance_warmup
  wait_for_capacity_timeout = var.wait_for_capacity_timeout

  enabled_metrics       = local.enabled_metrics
  metrics_granularity   = "1Minute"
  termination_policies  = ["OldestLaunchTemplate", "OldestInstance", "Default"]
  protect_from_scale_in = false

  dynamic "instance_maintenance_policy" {
    for_each = var.enable_instance_maintenance_policy ? [1] : []
    content {
      min_healthy_percentage = 100
      max_healthy_percentage = 200
    }
  }

  # Instances and volumes get their tags from the launch template; these tag the group only.
  dynamic "tag" {
    for_each = merge({ Name = "${var.name}-${each.key}" }, var.tags, { Colour = each.key })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = false
    }
  }

  lifecycle {
    # opsctl owns each colour's capacity and launch template version (blue/green swaps,
    # releases, rollbacks); a plan right after a swap must show no changes.
    ignore_changes = [desired_capacity, min_size, max_size, launch_template]

    precondition {
      condition     = var.min_size <= var.max_size
      error_message = "min_size must not exceed max_size."
    }

    precondition {
      condition     = var.desired_capacity >= var.min_size && var.desired_capacity <= var.max_size
      error_message = "desired_capacity must lie between min_size and max_size."
    }
  }
}

# ---------------------------------------------------------------------------------------------
# Target tracking per colour: CPU, and the job backlog per instance.
# ---------------------------------------------------------------------------------------------
resource "aws_autoscaling_policy" "cpu" {
  for_each = var.create_scaling_policies ? aws_autoscaling_group.this : {}

  name                   = "${each.value.name}-cpu"
  autoscaling_group_name = each.value.name
  policy_type            = "TargetTrackingScaling"

  target_tracking_configuration {
    target_value = var.cpu_target

    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
  }
}

# QueueDepth is the whole environment's backlog; target tracking needs a metric that falls as
# instances are added, so the policy tracks QueueDepth / in-service instances of the group.
resource "aws_autoscaling_policy" "queue_depth" {
  for_each = var.create_scaling_policies ? aws_autoscaling_group.this : {}

  name                   = "${each.value.name}-queue-depth"
  autoscaling_group_name = each.value.name
  policy_type            = "TargetTrackingScaling"

  target_tracking_configuration {
    target_value = var.queue_depth_target

    customized_metric_specification {
      metrics {
        id          = "depth"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = local.metric_namespace
            metric_name = "QueueDepth"

            dimensions {
              name  = "Environment"
              value = var.environment
            }
          }
        }
      }

      metrics {
        id          = "instances"
        return_data = false

        metric_stat {
          stat = "Average"

          metric {
            namespace   = "AWS/AutoScaling"
            metric_name = "GroupInServiceInstances"

            dimensions {
              name  = "AutoScalingGroupName"
              value = each.value.name
            }
          }
        }
      }

      metrics {
        id          = "backlog_per_instance"
        label       = "QueueDepth per in-service instance"
        expression  = "depth / instances"
        return_data = true
      }
    }
  }
}
