locals {
  colours = toset(["blue", "green"])

  # Target groups take a name_prefix (at most 6 characters; AWS appends a unique suffix) so a
  # replacement can exist beside the group it replaces (create_before_destroy). The env's name
  # is in the Name tag.
  target_group_name_prefix = { blue = "blue-", green = "green-" }

  # Initial traffic split of the HTTPS listener; afterwards opsctl owns it (see the listener).
  initial_weights = { blue = 100, green = 0 }

  # Rules pinned to one colour, and rules that follow the blue/green weights.
  fixed_rules    = { for r in var.routing_rules : tostring(r.priority) => r if r.target != "weighted" }
  weighted_rules = { for r in var.routing_rules : tostring(r.priority) => r if r.target == "weighted" }
}

resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_76:The web ACL (web_acl_arn) is defined outside this module and its managed rule groups are checked there; the service runs Python, not Java (no Log4j).
  name               = var.name
  load_balancer_type = "application"
  internal           = false
  subnets            = var.subnet_ids
  security_groups    = var.security_group_ids

  drop_invalid_header_fields = true
  desync_mitigation_mode     = "strictest"
  enable_http2               = true
  idle_timeout               = var.idle_timeout
  enable_deletion_protection = var.deletion_protection

  access_logs {
    bucket  = module.access_log_bucket.name
    prefix  = local.access_log_prefix
    enabled = true
  }

  tags = merge({ Name = var.name }, var.tags)

  # ELB writes a test object when access logs are enabled: the bucket policy must exist first.
  depends_on = [module.access_log_bucket]
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.web_acl_arn != null ? 1 : 0

  resource_arn = aws_lb.this.arn
  web_acl_arn  = var.web_acl_arn
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:TLS terminates at the ALB; targets sit in private subnets and accept HTTP only from the ALB security group.
  for_each = local.colours

  name_prefix          = local.target_group_name_prefix[each.key]
  vpc_id               = var.vpc_id
  protocol             = "HTTP"
  port                 = var.target_port
  target_type          = "instance"
  deregistration_delay = var.deregistration_delay
  slow_start           = var.slow_start

  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = "traffic-port"
    path                = var.health_check_path
    matcher             = "200"
    interval            = var.health_check_interval
    timeout             = var.health_check_timeout
    healthy_threshold   = var.healthy_threshold
    unhealthy_threshold = var.unhealthy_threshold
  }

  stickiness {
    type            = "lb_cookie"
    enabled         = var.stickiness_duration != null
    cookie_duration = coalesce(var.stickiness_duration, 86400)
  }

  tags = merge({ Name = "${var.name}-${each.key}", colour = each.key }, var.tags)

  lifecycle {
    # Issue 16, finding 4: a change that replaces a group (port, protocol, VPC) creates the new
    # one first. The listener's forward actions are opsctl's (ignore_changes below), so
    # Terraform would not move them and AWS refuses to delete a group a listener or rule still
    # uses (ResourceInUse): `opsctl apply` re-points the listener and rules, weights kept, as
    # soon as the new groups exist (opsctl/terraform/target_groups.py).
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }

  tags = merge({ Name = "${var.name}-http" }, var.tags)
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = local.certificate_arn

  default_action {
    type = "forward"

    forward {
      dynamic "target_group" {
        for_each = local.colours
        content {
          arn    = aws_lb_target_group.this[target_group.key].arn
          weight = local.initial_weights[target_group.key]
        }
      }
    }
  }

  tags = merge({ Name = "${var.name}-https" }, var.tags)

  lifecycle {
    # After creation the blue/green weights belong to opsctl (bluegreen / release).
    # Terraform must not reset them: a plan right after a swap shows no changes.
    ignore_changes = [default_action]
  }
}

resource "aws_lb_listener_rule" "fixed" {
  for_each = local.fixed_rules

  listener_arn = aws_lb_listener.https.arn
  priority     = each.value.priority

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[each.value.target].arn
  }

  dynamic "condition" {
    for_each = length(each.value.host_headers) > 0 ? [each.value.host_headers] : []
    content {
      host_header {
        values = condition.value
      }
    }
  }

  dynamic "condition" {
    for_each = length(each.value.path_patterns) > 0 ? [each.value.path_patterns] : []
    content {
      path_pattern {
        values = condition.value
      }
    }
  }

  tags = merge({ Name = "${var.name}-rule-${each.key}" }, var.tags)
}

resource "aws_lb_listener_rule" "weighted" {
  for_each = local.weighted_rules

  listener_arn = aws_lb_listener.https.arn
  priority     = each.value.priority

  action {
    type = "forward"

    forward {
      dynamic "target_group" {
        for_each = local.colours
        content {
          arn    = aws_lb_target_group.this[target_group.key].arn
          weight = local.initial_weights[target_group.key]
        }
      }
    }
  }

  dynamic "condition" {
    for_each = length(each.value.host_headers) > 0 ? [each.value.host_headers] : []
    content {
      host_header {
        values = condition.value
      }
    }
  }

  dynamic "condition" {
    for_each = length(each.value.path_patterns) > 0 ? [each.value.path_patterns] : []
    content {
      path_pattern {
        values = condition.value
      }
    }
  }

  tags = merge({ Name = "${var.name}-rule-${each.key}" }, var.tags)

  lifecycle {
    # Like the listener's default action, the weights of these rules belong to opsctl.
    ignore_changes = [action]
  }
}
