mock_provider "aws" {
  source = "../testing/aws"
}

override_resource {
  target          = aws_sns_topic.this
  override_during = plan
  values = {
    arn = "arn:aws:sns:eu-west-1:123456789012:ingest-test-alarms"
  }
}

variables {
  name                      = "ingest-test"
  alb_arn_suffix            = "app/ingest-test/50dc6c495c0c9188"
  target_group_arn_suffixes = { blue = "targetgroup/ingest-test-blue/73e2d6bc24d8a067", green = "targetgroup/ingest-test-green/0467ef3c8400ae65" }
  asg_names                 = { blue = "ingest-test-blue", green = "ingest-test-green" }
  db_cluster_identifier     = "ingest-test"
  queue_name                = "ingest-test-ingest"
  dlq_name                  = "ingest-test-ingest-dlq"
  metric_namespace          = "Ingest/test"
  tags                      = { env = "test" }
}

run "topic_is_encrypted_with_the_module_key" {
  command = plan

  assert {
    condition     = aws_sns_topic.this.kms_master_key_id == module.kms.arn
    error_message = "The alarm topic must be encrypted with the module's KMS key."
  }

  assert {
    condition     = module.kms.alias_name == "alias/ingest-test-alarms"
    error_message = "The alarm key must be aliased alias/<name>-alarms (rotation is the kms-key module's test)."
  }

  assert {
    condition = toset(flatten([for st in jsondecode(module.kms.policy).Statement :
    try([st.Principal.Service], []) if can(st.Principal.Service)])) == toset(["cloudwatch.amazonaws.com", "budgets.amazonaws.com"])
    error_message = "The key policy must let CloudWatch and Budgets use the key."
  }

  # Finding 15 (issue 16): the service principals may use the key only on this account's behalf.
  assert {
    condition = alltrue([for st in jsondecode(module.kms.policy).Statement :
      try(st.Condition.StringEquals["aws:SourceAccount"], "") == "123456789012"
    if can(st.Principal.Service)])
    error_message = "Finding 15: every service statement of the alarm key policy must be limited by aws:SourceAccount."
  }

  assert {
    condition = anytrue([for st in jsondecode(module.kms.policy).Statement :
    try(st.Condition.StringEquals["aws:PrincipalArn"], "") == "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"])
    error_message = "The key policy must let the Auto Scaling service-linked role use the key."
  }

  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.topic.statement :
      anytrue([for c in s.condition : c.variable == "aws:SourceAccount" && contains(c.values, "123456789012")])
    if anytrue([for p in s.principals : p.type == "Service"])])
    error_message = "Every service statement of the topic policy must be limited by aws:SourceAccount."
  }

  assert {
    condition     = output.kms_key_arn == "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    error_message = "kms_key_arn must be output."
  }
}

run "every_alarm_notifies_and_names_its_runbook" {
  command = plan

  assert {
    condition = alltrue([for a in concat(values(aws_cloudwatch_metric_alarm.this), values(aws_cloudwatch_metric_alarm.five_xx)) :
    a.alarm_actions == toset([aws_sns_topic.this.arn]) && a.ok_actions == toset([aws_sns_topic.this.arn])])
    error_message = "Every alarm must send ALARM and OK to the topic."
  }

  assert {
    condition = alltrue([for a in concat(values(aws_cloudwatch_metric_alarm.this), values(aws_cloudwatch_metric_alarm.five_xx)) :
      contains(["alb-5xx", "high-latency", "unhealthy-hosts", "asg-cpu", "aurora-cpu", "aurora-capacity", "aurora-connections",
    "aurora-replica-lag", "queue-backlog", "dlq-not-empty", "dead-jobs"], a.tags["runbook"])])
    error_message = "Every alarm must carry a runbook tag from the runbook list."
  }

  assert {
    condition = toset([for a in concat(values(aws_cloudwatch_metric_alarm.this), values(aws_cloudwatch_metric_alarm.five_xx)) : a.tags["runbook"]]) == toset([
      "alb-5xx", "high-latency", "unhealthy-hosts", "asg-cpu", "aurora-cpu", "aurora-capacity", "aurora-connections",
    "aurora-replica-lag", "queue-backlog", "dlq-not-empty", "dead-jobs"])
    error_message = "Every runbook must have at least one alarm."
  }

  assert {
    condition     = alltrue([for a in values(aws_cloudwatch_metric_alarm.this) : a.treat_missing_data == "notBreaching"])
    error_message = "treat_missing_data must be set deliberately on every alarm."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["dead-jobs"].tags["Name"] == "ingest-test-dead-jobs" && aws_cloudwatch_metric_alarm.this["dead-jobs"].tags["env"] == "test"
    error_message = "Alarms must carry Name and var.tags."
  }
}

run "default_thresholds" {
  command = plan

  assert {
    condition     = aws_cloudwatch_metric_alarm.five_xx["alb-5xx"].threshold == 5
    error_message = "The 5xx rate threshold must default to 5%."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["high-latency"].extended_statistic == "p99" && aws_cloudwatch_metric_alarm.this["high-latency"].threshold == 1
    error_message = "Latency must alarm on p99 above 1 s by default."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["dlq-not-empty"].threshold == 0 && aws_cloudwatch_metric_alarm.this["dlq-not-empty"].comparison_operator == "GreaterThanThreshold"
    error_message = "The DLQ alarm must fire on any message."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["dead-jobs"].namespace == "Ingest/test" && aws_cloudwatch_metric_alarm.this["dead-jobs"].metric_name == "DeadJobs"
    error_message = "The DeadJobs alarm must read the app's namespace."
  }
}

run "given_thresholds" {
  command = plan

  variables {
    thresholds = {
      alb_5xx_rate_percent         = 2
      latency_p99_seconds          = 0.5
      asg_cpu_percent              = 70
      aurora_acu_percent           = 85
      queue_oldest_message_seconds = 300
    }
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.five_xx["alb-5xx"].threshold == 2 && aws_cloudwatch_metric_alarm.this["high-latency"].threshold == 0.5
    error_message = "Given ALB thresholds must reach the alarms."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["asg-cpu-blue"].threshold == 70 && aws_cloudwatch_metric_alarm.this["asg-cpu-green"].threshold == 70
    error_message = "The ASG CPU threshold must reach both colours."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["aurora-capacity"].threshold == 85 && aws_cloudwatch_metric_alarm.this["queue-backlog"].threshold == 300
    error_message = "Given Aurora and queue thresholds must reach the alarms."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["aurora-cpu"].threshold == 80
    error_message = "Omitted thresholds must keep their defaults."
  }
}

run "unhealthy_hosts_per_colour" {
  command = plan

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["unhealthy-hosts-blue"].dimensions["TargetGroup"] == "targetgroup/ingest-test-blue/73e2d6bc24d8a067" &&
      aws_cloudwatch_metric_alarm.this["unhealthy-hosts-green"].dimensions["TargetGroup"] == "targetgroup/ingest-test-green/0467ef3c8400ae65"
    )
    error_message = "Each colour needs its own unhealthy-hosts alarm on its target group."
  }

  assert {
    condition     = alltrue([for c in ["blue", "green"] : aws_cloudwatch_metric_alarm.this["unhealthy-hosts-${c}"].metric_name == "UnHealthyHostCount" && aws_cloudwatch_metric_alarm.this["unhealthy-hosts-${c}"].dimensions["LoadBalancer"] == var.alb_arn_suffix])
    error_message = "Unhealthy-hosts alarms must read UnHealthyHostCount of the ALB."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["asg-cpu-green"].dimensions["AutoScalingGroupName"] == "ingest-test-green"
    error_message = "ASG CPU alarms must be per colour."
  }
}

run "alb_5xx_uses_metric_math" {
  command = plan

  assert {
    condition     = aws_cloudwatch_metric_alarm.five_xx["alb-5xx"].metric_name == null && length(aws_cloudwatch_metric_alarm.five_xx["alb-5xx"].metric_query) == 4
    error_message = "The 5xx alarm must be a metric-math alarm over four queries."
  }

  assert {
    condition = toset(flatten([for q in aws_cloudwatch_metric_alarm.five_xx["alb-5xx"].metric_query : [for m in q.metric : m.metric_name]])) == toset([
    "RequestCount", "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"])
    error_message = "The 5xx rate must combine target and ELB 5xx over RequestCount."
  }

  assert {
    condition     = length([for q in aws_cloudwatch_metric_alarm.five_xx["alb-5xx"].metric_query : q if q.return_data == true && strcontains(coalesce(q.expression, "-"), "/ requests")]) == 1
    error_message = "Exactly one expression, a ratio over requests, must drive the alarm."
  }
}

run "deployment_health_set" {
  command = plan

  assert {
    condition     = output.deployment_alarm_names == ["ingest-test-alb-5xx", "ingest-test-high-latency", "ingest-test-unhealthy-hosts-blue", "ingest-test-unhealthy-hosts-green"]
    error_message = "The deployment set must be 5xx rate, latency and both colours' unhealthy hosts."
  }

  assert {
    condition     = output.colour_alarm_names["green"] == ["ingest-test-alb-5xx-green", "ingest-test-latency-green", "ingest-test-unhealthy-hosts-green"]
    error_message = "Each colour needs its own 5xx rate, latency and unhealthy-hosts alarms."
  }

  assert {
    condition     = alltrue([for q in aws_cloudwatch_metric_alarm.five_xx["alb-5xx-blue"].metric_query : q.metric[0].dimensions["TargetGroup"] == "targetgroup/ingest-test-blue/73e2d6bc24d8a067" if length(q.metric) > 0])
    error_message = "A colour's 5xx alarm must use its own target group's dimensions, not the load balancer's."
  }

  assert {
    condition     = output.job_alarm_names == ["ingest-test-dead-jobs", "ingest-test-dlq-not-empty"]
    error_message = "The job alarms (dead jobs, DLQ) belong to every deployment."
  }

  assert {
    condition     = output.deployment_alarm_name == "ingest-test-deployment-health"
    error_message = "The composite alarm must be created by default."
  }

  assert {
    condition     = aws_cloudwatch_composite_alarm.deployment_health[0].alarm_rule == "ALARM(\"ingest-test-alb-5xx\") OR ALARM(\"ingest-test-high-latency\") OR ALARM(\"ingest-test-unhealthy-hosts-blue\") OR ALARM(\"ingest-test-unhealthy-hosts-green\")"
    error_message = "The composite alarm must be ALARM when any deployment alarm is."
  }
}

run "notifications_budget_dashboard_by_default" {
  command = plan

  assert {
    condition     = aws_autoscaling_notification.this[0].group_names == toset(["ingest-test-blue", "ingest-test-green"])
    error_message = "Both colours' ASGs must notify the topic."
  }

  assert {
    condition = aws_autoscaling_notification.this[0].notifications == toset([
      "autoscaling:EC2_INSTANCE_LAUNCH", "autoscaling:EC2_INSTANCE_LAUNCH_ERROR",
    "autoscaling:EC2_INSTANCE_TERMINATE", "autoscaling:EC2_INSTANCE_TERMINATE_ERROR"])
    error_message = "Launch, terminate and their errors must be notified."
  }

  assert {
    condition     = aws_budgets_budget.this[0].limit_amount == "500" && aws_budgets_budget.this[0].budget_type == "COST" && aws_budgets_budget.this[0].time_unit == "MONTHLY"
    error_message = "A monthly cost budget of 500 USD must be created by default."
  }

  assert {
    condition     = toset([for n in aws_budgets_budget.this[0].notification : "${n.notification_type}:${n.threshold}"]) == toset(["ACTUAL:80", "ACTUAL:100", "FORECASTED:100"])
    error_message = "The budget must notify on actual 80%/100% and forecast 100%."
  }

  assert {
    condition     = alltrue([for n in aws_budgets_budget.this[0].notification : n.subscriber_sns_topic_arns == toset([aws_sns_topic.this.arn])])
    error_message = "Budget notifications must go to the topic."
  }

  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.this.dashboard_body).widgets) == 8
    error_message = "The dashboard must have its eight widgets."
  }

  assert {
    condition     = strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "ACUUtilization") && strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "DeadJobs") && strcontains(aws_cloudwatch_dashboard.this.dashboard_body, "eu-west-1")
    error_message = "The dashboard must cover Aurora capacity and the app's metrics in the current region."
  }
}

run "emulator_switches_off" {
  command = plan

  variables {
    create_composite_alarm   = false
    enable_asg_notifications = false
    create_budget            = false
  }

  assert {
    condition     = length(aws_cloudwatch_composite_alarm.deployment_health) == 0 && output.deployment_alarm_name == null
    error_message = "create_composite_alarm = false must drop the composite alarm and output null."
  }

  assert {
    condition     = length(aws_autoscaling_notification.this) == 0
    error_message = "enable_asg_notifications = false must drop the ASG notifications."
  }

  assert {
    condition     = length(aws_budgets_budget.this) == 0 && output.budget_name == null
    error_message = "create_budget = false must drop the budget."
  }

  assert {
    condition     = length(output.deployment_alarm_names) == 4
    error_message = "The deployment alarms must stay without the composite."
  }
}

run "subscriptions" {
  command = plan

  variables {
    alarm_emails          = ["oncall@example.com", "lead@example.com"]
    alarm_https_endpoints = ["https://events.pagerduty.com/integration/abc/enqueue"]
    app_metric_dimensions = { Environment = "test" }
  }

  assert {
    condition     = length(aws_sns_topic_subscription.email) == 2 && alltrue([for s in aws_sns_topic_subscription.email : s.protocol == "email"])
    error_message = "Every alarm e-mail must be subscribed."
  }

  assert {
    condition     = aws_sns_topic_subscription.https["https://events.pagerduty.com/integration/abc/enqueue"].protocol == "https"
    error_message = "HTTPS endpoints must be subscribed with protocol https."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["dead-jobs"].dimensions == tomap({ Environment = "test" })
    error_message = "app_metric_dimensions must reach the DeadJobs alarm."
  }
}

run "rejects_bad_email" {
  command = plan

  variables {
    alarm_emails = ["not-an-address"]
  }

  expect_failures = [var.alarm_emails]
}

run "rejects_plain_http_endpoint" {
  command = plan

  variables {
    alarm_https_endpoints = ["http://hooks.example.com/alarm"]
  }

  expect_failures = [var.alarm_https_endpoints]
}

run "rejects_zero_5xx_threshold" {
  command = plan

  variables {
    thresholds = { alb_5xx_rate_percent = 0 }
  }

  expect_failures = [var.thresholds]
}

run "rejects_cpu_threshold_above_100" {
  command = plan

  variables {
    thresholds = { asg_cpu_percent = 150 }
  }

  expect_failures = [var.thresholds]
}

run "rejects_negative_dlq_threshold" {
  command = plan

  variables {
    thresholds = { dlq_messages = -1 }
  }

  expect_failures = [var.thresholds]
}

run "rejects_wrong_asg_keys" {
  command = plan

  variables {
    asg_names = { blue = "ingest-test-blue", red = "ingest-test-red" }
  }

  expect_failures = [var.asg_names]
}

run "rejects_wrong_target_group_keys" {
  command = plan

  variables {
    target_group_arn_suffixes = { blue = "targetgroup/ingest-test-blue/73e2d6bc24d8a067" }
  }

  expect_failures = [var.target_group_arn_suffixes]
}

run "rejects_bad_budget" {
  command = plan

  variables {
    budget_limit_usd = 0
  }

  expect_failures = [var.budget_limit_usd]
}

run "rejects_aws_namespace" {
  command = plan

  variables {
    metric_namespace = "AWS/EC2"
  }

  expect_failures = [var.metric_namespace]
}
