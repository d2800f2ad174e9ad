# Monthly cost budget for the account, notifying the alarm topic.

locals {
  budget_notifications = [
    { type = "ACTUAL", threshold = 80 },
    { type = "ACTUAL", threshold = 100 },
    { type = "FORECASTED", threshold = 100 },
  ]
}

resource "aws_budgets_budget" "this" {
  count = var.create_budget ? 1 : 0

  name         = "${var.name}-monthly-cost"
  budget_type  = "COST"
  time_unit    = "MONTHLY"
  limit_amount = tostring(var.budget_limit_usd)
  limit_unit   = "USD"

  dynamic "notification" {
    for_each = local.budget_notifications
    content {
      notification_type         = notification.value.type
      comparison_operator       = "GREATER_THAN"
      threshold                 = notification.value.threshold
      threshold_type            = "PERCENTAGE"
      subscriber_sns_topic_arns = [aws_sns_topic.this.arn]
    }
  }

  tags = merge({ Name = "${var.name}-monthly-cost" }, var.tags)

  depends_on = [aws_sns_topic_policy.this]
}
