# Three security groups chained ALB -> app -> database. Every rule is its own resource, and
# each group only talks to the next one in the chain: no group has an SSH rule, and the
# database group has no egress rule at all (Terraform removes AWS's default allow-all egress
# rule when it creates a group).
#
# Replacing a group (a new description, VPC or name) creates the new one first (issue 16,
# finding 5): name_prefix lets both exist, and create_before_destroy makes Terraform move the
# ALB, the Aurora cluster and the launch templates to it (in-place updates) before it deletes
# the old one. The rules are their own resources on each group, so they are made anew with it.
# Running instances keep the group they were launched with until a deploy replaces them, and
# EC2 refuses to delete a group a network interface uses (DependencyViolation): the old app
# group's delete then fails after 3 minutes and stays as a deposed object; deploy, then
# apply again (docs/operations.md).

locals {
  # Rules that reference another group lose their description on the local emulator.
  reference_rule_description = {
    alb_to_app        = var.describe_sg_reference_rules ? "To the app instances (nginx) on the app port" : null
    app_from_alb      = var.describe_sg_reference_rules ? "From the load balancer on the app port" : null
    app_to_database   = var.describe_sg_reference_rules ? "To the Aurora MySQL cluster" : null
    database_from_app = var.describe_sg_reference_rules ? "From the app instances on the MySQL port" : null
  }

  # One ALB ingress rule per (port, CIDR) pair.
  alb_ingress = {
    for pair in setproduct([80, 443], var.alb_ingress_cidrs) :
    "${pair[0]}-${pair[1]}" => { port = pair[0], cidr = pair[1] }
  }
}

resource "aws_security_group" "alb" {
  #checkov:skip=CKV2_AWS_5:Attached to the load balancer by the loadbalancer module, which takes this group's id.
  name_prefix = "${var.name}-alb-"
  description = "Load balancer: HTTP/HTTPS in from the allowed CIDRs, out only to the app instances"
  vpc_id      = var.vpc_id

  tags = merge({ Name = "${var.name}-alb" }, var.tags)

  lifecycle {
    create_before_destroy = true # issue 16, finding 5 (see the top of this file)
  }
}

resource "aws_security_group" "app" {
  #checkov:skip=CKV2_AWS_5:Attached to the instances by the compute module's launch templates, which take this group's id.
  name_prefix = "${var.name}-app-"
  description = "App instances: app port in from the load balancer only; HTTPS and MySQL out"
  vpc_id      = var.vpc_id

  tags = merge({ Name = "${var.name}-app" }, var.tags)

  lifecycle {
    create_before_destroy = true # issue 16, finding 5 (see the top of this file)
  }

  # Only instances use this group, and they never leave it without a deploy: waiting the
  # provider's default 15 minutes on DependencyViolation would only delay the failure.
  timeouts {
    delete = "3m"
  }
}

resource "aws_security_group" "database" {
  #checkov:skip=CKV2_AWS_5:Attached to the Aurora cluster by the database module, which takes this group's id.
  name_prefix = "${var.name}-database-"
  description = "Aurora MySQL: MySQL port in from the app instances only; no egress"
  vpc_id      = var.vpc_id

  tags = merge({ Name = "${var.name}-database" }, var.tags)

  lifecycle {
    create_before_destroy = true # issue 16, finding 5 (see the top of this file)
  }
}

# --- load balancer ---------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "alb" {
  #checkov:skip=CKV_AWS_260:A public load balancer must accept HTTP from the internet; its port-80 listener only answers with a 301 redirect to HTTPS.
  for_each = local.alb_ingress

  security_group_id = aws_security_group.alb.id
  description       = each.value.port == 443 ? "HTTPS from allowed clients" : "HTTP from allowed clients (redirected to HTTPS)"
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = each.value.cidr

  tags = merge({ Name = "${var.name}-alb-in-${each.value.port}" }, var.tags)
}

resource "aws_vpc_security_group_egress_rule" "alb_to_app" {
  security_group_id            = aws_security_group.alb.id
  description                  = local.reference_rule_description.alb_to_app
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
  referenced_security_group_id = aws_security_group.app.id

  tags = merge({ Name = "${var.name}-alb-out-app" }, var.tags)
}

# --- app instances ---------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "app_from_alb" {
  #checkov:skip=CKV_AWS_260:False positive: the only source is the load balancer's security group (referenced_security_group_id); no CIDR is opened.
  security_group_id            = aws_security_group.app.id
  description                  = local.reference_rule_description.app_from_alb
  ip_protocol                  = "tcp"
  from_port                    = var.app_port
  to_port                      = var.app_port
  referenced_security_group_id = aws_security_group.alb.id

  tags = merge({ Name = "${var.name}-app-in-alb" }, var.tags)
}

# The instances call AWS APIs (Secrets Manager, S3, SQS, CloudWatch, SSM) over HTTPS through
# the NAT gateways; their public endpoints have no fixed CIDRs. No port 80 egress: the AMI is
# baked with every package (packer), so instances never reach an OS mirror at runtime. DNS,
# NTP and instance metadata go to link-local addresses that security groups do not filter.
resource "aws_vpc_security_group_egress_rule" "app_https" {
  security_group_id = aws_security_group.app.id
  description       = "HTTPS to AWS APIs through the NAT gateways"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"

  tags = merge({ Name = "${var.name}-app-out-https" }, var.tags)
}

resource "aws_vpc_security_group_egress_rule" "app_to_database" {
  security_group_id            = aws_security_group.app.id
  description                  = local.reference_rule_description.app_to_database
  ip_protocol                  = "tcp"
  from_port                    = var.database_port
  to_port                      = var.database_port
  referenced_security_group_id = aws_security_group.database.id

  tags = merge({ Name = "${var.name}-app-out-database" }, var.tags)
}

# --- database --------------------------------------------------------------------------

resource "aws_vpc_security_group_ingress_rule" "database_from_app" {
  security_group_id            = aws_security_group.database.id
  description                  = local.reference_rule_description.database_from_app
  ip_protocol                  = "tcp"
  from_port                    = var.database_port
  to_port                      = var.database_port
  referenced_security_group_id = aws_security_group.app.id

  tags = merge({ Name = "${var.name}-database-in-app" }, var.tags)
}
