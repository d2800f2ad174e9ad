# One CloudWatch dashboard over the whole stack, two widgets a row.

locals {
  app_dimensions = flatten([for k, v in var.app_metric_dimensions : [k, v]])

  dashboard_widgets = [
    {
      title = "ALB requests and 5xx"
      stat  = "Sum"
      metrics = [
        ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", var.alb_arn_suffix],
        ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", var.alb_arn_suffix],
        ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", var.alb_arn_suffix],
      ]
    },
    {
      title = "ALB target response time"
      stat  = "p99"
      metrics = [
        ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, { stat = "p50" }],
        ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, { stat = "p99" }],
      ]
    },
    {
      title = "Healthy / unhealthy hosts per colour"
      stat  = "Maximum"
      metrics = flatten([for colour in sort(tolist(local.colours)) : [
        ["AWS/ApplicationELB", "HealthyHostCount", "TargetGroup", var.target_group_arn_suffixes[colour], "LoadBalancer", var.alb_arn_suffix, { label = "${colour} healthy" }],
        ["AWS/ApplicationELB", "UnHealthyHostCount", "TargetGroup", var.target_group_arn_suffixes[colour], "LoadBalancer", var.alb_arn_suffix, { label = "${colour} unhealthy" }],
      ]])
    },
    {
      title = "CPU per colour"
      stat  = "Average"
      metrics = [for colour in sort(tolist(local.colours)) :
        ["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", var.asg_names[colour], { label = colour }]
      ]
    },
    {
      title = "Aurora CPU and capacity (%)"
      stat  = "Maximum"
      metrics = [
        ["AWS/RDS", "CPUUtilization", "DBClusterIdentifier", var.db_cluster_identifier],
        ["AWS/RDS", "ACUUtilization", "DBClusterIdentifier", var.db_cluster_identifier],
      ]
    },
    {
      title = "Aurora connections and replica lag"
      stat  = "Maximum"
      metrics = [
        ["AWS/RDS", "DatabaseConnections", "DBClusterIdentifier", var.db_cluster_identifier],
        ["AWS/RDS", "AuroraReplicaLag", "DBClusterIdentifier", var.db_cluster_identifier, "Role", "READER", { yAxis = "right" }],
      ]
    },
    {
      title = "Ingest queue and DLQ"
      stat  = "Maximum"
      metrics = [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.queue_name],
        ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", var.queue_name, { yAxis = "right" }],
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.dlq_name, { label = "DLQ messages" }],
      ]
    },
    {
      title = "Service QueueDepth and DeadJobs"
      stat  = "Maximum"
      metrics = [
        concat([var.metric_namespace, "QueueDepth"], local.app_dimensions),
        concat([var.metric_namespace, "DeadJobs"], local.app_dimensions, [{ yAxis = "right" }]),
      ]
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name

  dashboard_body = jsonencode({
    widgets = [for i, w in local.dashboard_widgets : {
      type   = "metric"
      x      = (i % 2) * 12
      y      = floor(i / 2) * 6
      width  = 12
      height = 6
      properties = {
        title   = w.title
        region  = local.region
        view    = "timeSeries"
        stacked = false
        period  = 60
        stat    = w.stat
        metrics = w.metrics
      }
    }]
  })
}
