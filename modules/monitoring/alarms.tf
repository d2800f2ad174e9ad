# CloudWatch alarms. Every alarm notifies the topic on ALARM and OK and carries the tag
# runbook = <name>: the runbook in runbooks/<name>.md answers it.
#
# treat_missing_data is notBreaching throughout, each for a reason:
#   ALB metrics       no requests means no errors and no latency; the idle colour has no targets.
#   ASG CPU           the idle colour runs no instances.
#   Aurora            an auto-paused cluster (min 0 ACU) and a cluster without readers report nothing.
#   SQS               CloudWatch stops reporting a queue that has been idle for six hours.
#   DeadJobs          the service emits it only while it runs; its absence is the other alarms' job.

locals {
  alb_dimensions    = { LoadBalancer = var.alb_arn_suffix }
  aurora_dimensions = { DBClusterIdentifier = var.db_cluster_identifier }

  five_xx_alarms = merge(
    {
      "alb-5xx" = {
        description = "Target + ELB 5xx responses above ${var.thresholds.alb_5xx_rate_percent}% of ALB requests."
        label       = "5xx rate (%)"
        expression  = "IF(requests > 0, 100 * (FILL(target_5xx, 0) + FILL(elb_5xx, 0)) / requests, 0)"
        dimensions  = local.alb_dimensions
        counts      = { requests = "RequestCount", target_5xx = "HTTPCode_Target_5XX_Count", elb_5xx = "HTTPCode_ELB_5XX_Count" }
      }
    },
    { for colour in local.colours : "alb-5xx-${colour}" => {
      description = "Target 5xx responses above ${var.thresholds.alb_5xx_rate_percent}% of the ${colour} target group's requests. opsctl watches it while ${colour} bakes."
      label       = "${colour} 5xx rate (%)"
      expression  = "IF(requests > 0, 100 * FILL(target_5xx, 0) / requests, 0)"
      dimensions  = merge(local.alb_dimensions, { TargetGroup = var.target_group_arn_suffixes[colour] })
      counts      = { requests = "RequestCount", target_5xx = "HTTPCode_Target_5XX_Count" }
    } },
  )

  # Alarms on a single metric. The 5xx rates (metric math) are five_xx below.
  metric_alarms = merge(
    {
      "high-latency" = {
        runbook            = "high-latency"
        description        = "ALB target response time p99 above ${var.thresholds.latency_p99_seconds} s."
        namespace          = "AWS/ApplicationELB"
        metric_name        = "TargetResponseTime"
        dimensions         = local.alb_dimensions
        statistic          = null
        extended_statistic = "p99"
        threshold          = var.thresholds.latency_p99_seconds
        period             = 60
        evaluation_periods = 5
        datapoints         = 3
      }
      "aurora-cpu" = {
        runbook            = "aurora-cpu"
        description        = "Aurora CPU above ${var.thresholds.aurora_cpu_percent}% on an instance of ${var.db_cluster_identifier}."
        namespace          = "AWS/RDS"
        metric_name        = "CPUUtilization"
        dimensions         = local.aurora_dimensions
        statistic          = "Maximum"
        extended_statistic = null
        threshold          = var.thresholds.aurora_cpu_percent
        period             = 300
        evaluation_periods = 3
        datapoints         = 3
      }
      "aurora-capacity" = {
        runbook            = "aurora-capacity"
        description        = "Aurora Serverless v2 capacity above ${var.thresholds.aurora_acu_percent}% of max ACU (ACUUtilization): raise max_capacity or find the load."
        namespace          = "AWS/RDS"
        metric_name        = "ACUUtilization"
        dimensions         = local.aurora_dimensions
        statistic          = "Maximum"
        extended_statistic = null
        threshold          = var.thresholds.aurora_acu_percent
        period             = 300
        evaluation_periods = 3
        datapoints         = 3
      }
      "aurora-connections" = {
        runbook            = "aurora-connections"
        description        = "More than ${var.thresholds.aurora_connections} database connections on an instance of ${var.db_cluster_identifier}."
        namespace          = "AWS/RDS"
        metric_name        = "DatabaseConnections"
        dimensions         = local.aurora_dimensions
        statistic          = "Maximum"
        extended_statistic = null
        threshold          = var.thresholds.aurora_connections
        period             = 300
        evaluation_periods = 3
        datapoints         = 3
      }
      "aurora-replica-lag" = {
        runbook            = "aurora-replica-lag"
        description        = "Aurora reader lag above ${var.thresholds.aurora_replica_lag_ms} ms."
        namespace          = "AWS/RDS"
        metric_name        = "AuroraReplicaLag"
        dimensions         = merge(local.aurora_dimensions, { Role = "READER" })
        statistic          = "Maximum"
        extended_statistic = null
        threshold          = var.thresholds.aurora_replica_lag_ms
        period             = 60
        evaluation_periods = 5
        datapoints         = 5
      }
      "queue-backlog" = {
        runbook            = "queue-backlog"
        description        = "Oldest message in ${var.queue_name} older than ${var.thresholds.queue_oldest_message_seconds} s: the workers are not keeping up."
        namespace          = "AWS/SQS"
        metric_name        = "ApproximateAgeOfOldestMessage"
        dimensions         = { QueueName = var.queue_name }
        statistic          = "Maximum"
        extended_statistic = null
        threshold          = var.thresholds.queue_oldest_message_seconds
        period             = 300
        evaluation_periods = 2
        datapoints         = 2
      }
      "dlq-not-empty" = {
        runbook            = "dlq-not-empty"
        description        = "More than ${var.thresholds.dlq_messages} messages in the dead-letter queue ${var.dlq_name}."
        namespace          = "AWS/SQS"
        metric_name        = "ApproximateNumberOfMessagesVisible"
        dimensions         = { QueueName = var.dlq_name }
        statistic          = "Maximum"
        extended_statistic = null
        threshold          = var.thresholds.dlq_messages
        period             = 300
        evaluation_periods = 1
        datapoints         = 1
      }
      "dead-jobs" = {
        runbook            = "dead-jobs"
        description        = "The service reports more than ${var.thresholds.dead_jobs} dead jobs (DeadJobs in ${var.metric_namespace})."
        namespace          = var.metric_namespace
        metric_name        = "DeadJobs"
        dimensions         = var.app_metric_dimensions
        statistic          = "Maximum"
        extended_statistic = null
        threshold          = var.thresholds.dead_jobs
        period             = 300
        evaluation_periods = 1
        datapoints         = 1
      }
    },
    { for colour in local.colours : "unhealthy-hosts-${colour}" => {
      runbook            = "unhealthy-hosts"
      description        = "More than ${var.thresholds.unhealthy_hosts} unhealthy targets in the ${colour} target group."
      namespace          = "AWS/ApplicationELB"
      metric_name        = "UnHealthyHostCount"
      dimensions         = merge(local.alb_dimensions, { TargetGroup = var.target_group_arn_suffixes[colour] })
      statistic          = "Maximum"
      extended_statistic = null
      threshold          = var.thresholds.unhealthy_hosts
      period             = 60
      evaluation_periods = 3
      datapoints         = 3
    } },
    # Per-colour latency: the target group's own p99, so a canary's slowness is not averaged
    # away by the colour that takes most of the traffic.
    { for colour in local.colours : "latency-${colour}" => {
      runbook            = "high-latency"
      description        = "Target response time p99 of the ${colour} target group above ${var.thresholds.latency_p99_seconds} s. opsctl watches it while ${colour} bakes."
      namespace          = "AWS/ApplicationELB"
      metric_name        = "TargetResponseTime"
      dimensions         = merge(local.alb_dimensions, { TargetGroup = var.target_group_arn_suffixes[colour] })
      statistic          = null
      extended_statistic = "p99"
      threshold          = var.thresholds.latency_p99_seconds
      period             = 60
      evaluation_periods = 5
      datapoints         = 3
    } },
    { for colour in local.colours : "asg-cpu-${colour}" => {
      runbook            = "asg-cpu"
      description        = "Average CPU of the ${colour} Auto Scaling group above ${var.thresholds.asg_cpu_percent}%."
      namespace          = "AWS/EC2"
      metric_name        = "CPUUtilization"
      dimensions         = { AutoScalingGroupName = var.asg_names[colour] }
      statistic          = "Average"
      extended_statistic = null
      threshold          = var.thresholds.asg_cpu_percent
      period             = 300
      evaluation_periods = 3
      datapoints         = 3
    } },
  )

  # The alarms opsctl watches while a new colour bakes: load-balancer-wide ones, the baking
  # colour's own (target-group dimensions, so a 10 % canary is not diluted by the other 90 %),
  # and the job alarms (the new colour's workers take jobs as soon as it runs, whatever the
  # weights).
  deployment_alarm_keys = ["alb-5xx", "high-latency", "unhealthy-hosts-blue", "unhealthy-hosts-green"]
  colour_alarm_keys     = { for colour in local.colours : colour => ["alb-5xx-${colour}", "latency-${colour}", "unhealthy-hosts-${colour}"] }
  job_alarm_keys        = ["dead-jobs", "dlq-not-empty"]

  alarm_names = merge(
    { for key, alarm in aws_cloudwatch_metric_alarm.five_xx : key => alarm.alarm_name },
    { for key, alarm in aws_cloudwatch_metric_alarm.this : key => alarm.alarm_name },
  )
}

# The 5xx rates (metric math): load-balancer-wide (targets' and the load balancer's own 5xx over
# all requests) and per colour (that target group's targets' 5xx over its requests; the load
# balancer's own 5xx has no target-group dimension, so the wide alarm covers it).
resource "aws_cloudwatch_metric_alarm" "five_xx" {
  for_each = local.five_xx_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "${each.value.description} Runbook: runbooks/alb-5xx.md"
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.thresholds.alb_5xx_rate_percent
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]

  metric_query {
    id          = "rate"
    label       = each.value.label
    expression  = each.value.expression
    return_data = true
  }

  dynamic "metric_query" {
    for_each = each.value.counts
    content {
      id = metric_query.key
      metric {
        namespace   = "AWS/ApplicationELB"
        metric_name = metric_query.value
        dimensions  = each.value.dimensions
        stat        = "Sum"
        period      = 60
      }
    }
  }

  tags = merge({ Name = "${var.name}-${each.key}", runbook = "alb-5xx" }, var.tags)
}

moved {
  from = aws_cloudwatch_metric_alarm.alb_5xx
  to   = aws_cloudwatch_metric_alarm.five_xx["alb-5xx"]
}

moved {
  from = aws_cloudwatch_metric_alarm.colour_5xx["blue"]
  to   = aws_cloudwatch_metric_alarm.five_xx["alb-5xx-blue"]
}

moved {
  from = aws_cloudwatch_metric_alarm.colour_5xx["green"]
  to   = aws_cloudwatch_metric_alarm.five_xx["alb-5xx-green"]
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.metric_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "${each.value.description} Runbook: runbooks/${each.value.runbook}.md"
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  extended_statistic  = each.value.extended_statistic
  period              = each.value.period
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.datapoints
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]

  tags = merge({ Name = "${var.name}-${each.key}", runbook = each.value.runbook }, var.tags)
}

# One alarm state for the whole deployment set: ALARM when any member is in ALARM.
# It sends no notifications itself, because each member already notifies the topic.
resource "aws_cloudwatch_composite_alarm" "deployment_health" {
  count = var.create_composite_alarm ? 1 : 0

  alarm_name        = "${var.name}-deployment-health"
  alarm_description = "Any deployment-health alarm (5xx rate, p99 latency, unhealthy hosts) in ALARM. opsctl watches this during a bake."
  alarm_rule        = join(" OR ", [for key in local.deployment_alarm_keys : "ALARM(\"${local.alarm_names[key]}\")"])

  tags = merge({ Name = "${var.name}-deployment-health" }, var.tags)
}
