################################################################################
# VPC endpoints (issue 16, finding 19), off by default: enable_vpc_endpoints.
# S3 through a gateway endpoint on the private route tables (free; S3 traffic stops crossing
# the NAT gateways, which bill per GB), and the AWS APIs the instances call through interface
# endpoints in the private subnets with private DNS, so the SDKs' default hostnames resolve to
# them: the instances keep working when a NAT gateway (or the single one) is down.
################################################################################

locals {
  interface_endpoints = var.enable_vpc_endpoints ? toset(var.interface_endpoint_services) : toset([])
}

resource "aws_vpc_endpoint" "s3" {
  count = var.enable_vpc_endpoints ? 1 : 0

  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = aws_route_table.private[*].id

  tags = merge({ Name = "${var.name}-s3" }, var.tags)
}

resource "aws_vpc_endpoint" "interface" {
  for_each = local.interface_endpoints

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${local.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true

  tags = merge({ Name = "${var.name}-${each.key}" }, var.tags)
}

resource "aws_security_group" "endpoints" {
  count = var.enable_vpc_endpoints ? 1 : 0

  name_prefix = "${var.name}-endpoints-"
  description = "Interface VPC endpoints: HTTPS in from the VPC only; no egress"
  vpc_id      = aws_vpc.this.id

  tags = merge({ Name = "${var.name}-endpoints" }, var.tags)

  lifecycle {
    create_before_destroy = true # replaceable like the security module's groups (finding 5)
  }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  count = var.enable_vpc_endpoints ? 1 : 0

  security_group_id = aws_security_group.endpoints[0].id
  description       = "HTTPS from the VPC to the interface endpoints"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.cidr_block

  tags = merge({ Name = "${var.name}-endpoints-in-https" }, var.tags)
}
