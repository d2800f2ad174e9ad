################################################################################
# Network ACLs, one per tier. NACLs are stateless, so every allowed request needs
# a matching rule for its reply on the ephemeral ports (1024-65535: the range NAT
# gateways and load balancers use). Security groups remain the stateful,
# per-resource guard; these are the subnet-level backstop.
################################################################################

locals {
  any_ipv4  = "0.0.0.0/0"
  ephemeral = { from = 1024, to = 65535 }

  public_nacl_rules = {
    # Clients reach the ALB on 80 (redirected) and 443; private instances reach the
    # NAT gateway on the same ports for their outbound HTTP(S).
    in_http      = { egress = false, rule_number = 100, from = 80, to = 80, cidr = local.any_ipv4 }
    in_https     = { egress = false, rule_number = 110, from = 443, to = 443, cidr = local.any_ipv4 }
    in_ephemeral = { egress = false, rule_number = 120, from = local.ephemeral.from, to = local.ephemeral.to, cidr = local.any_ipv4 }

    out_http      = { egress = true, rule_number = 100, from = 80, to = 80, cidr = local.any_ipv4 }
    out_https     = { egress = true, rule_number = 110, from = 443, to = 443, cidr = local.any_ipv4 }
    out_ephemeral = { egress = true, rule_number = 120, from = local.ephemeral.from, to = local.ephemeral.to, cidr = local.any_ipv4 }
    out_app       = { egress = true, rule_number = 130, from = var.app_port, to = var.app_port, cidr = var.cidr_block }
  }

  private_nacl_rules = merge(
    {
      # The ALB (inside the VPC) forwards to the app port; replies come back from
      # the internet (through the NAT gateway), AWS APIs and the database.
      in_app       = { egress = false, rule_number = 100, from = var.app_port, to = var.app_port, cidr = var.cidr_block }
      in_ephemeral = { egress = false, rule_number = 110, from = local.ephemeral.from, to = local.ephemeral.to, cidr = local.any_ipv4 }

      out_http      = { egress = true, rule_number = 100, from = 80, to = 80, cidr = local.any_ipv4 }
      out_https     = { egress = true, rule_number = 110, from = 443, to = 443, cidr = local.any_ipv4 }
      out_ephemeral = { egress = true, rule_number = 120, from = local.ephemeral.from, to = local.ephemeral.to, cidr = var.cidr_block }
    },
    {
      for i, cidr in local.database_subnet_cidrs :
      "out_database_${i}" => { egress = true, rule_number = 200 + i, from = var.database_port, to = var.database_port, cidr = cidr }
    },
    # Interface endpoints live in these subnets: instances in the other AZs reach them on 443
    # (replies leave by out_ephemeral to the VPC). The S3 gateway endpoint needs nothing more:
    # out_https and in_ephemeral already carry that traffic.
    {
      for name, rule in {
        in_endpoints = { egress = false, rule_number = 120, from = 443, to = 443, cidr = var.cidr_block }
      } : name => rule if var.enable_vpc_endpoints
    },
  )

  # The database tier admits the database port from the app subnets and nothing else,
  # and may only answer them.
  database_nacl_rules = merge(
    {
      for i, cidr in local.private_subnet_cidrs :
      "in_app_${i}" => { egress = false, rule_number = 100 + i, from = var.database_port, to = var.database_port, cidr = cidr }
    },
    {
      for i, cidr in local.private_subnet_cidrs :
      "out_app_${i}" => { egress = true, rule_number = 100 + i, from = local.ephemeral.from, to = local.ephemeral.to, cidr = cidr }
    },
  )
}

resource "aws_network_acl" "public" {
  vpc_id     = aws_vpc.this.id
  subnet_ids = aws_subnet.public[*].id

  tags = merge({ Name = "${var.name}-public" }, var.tags)
}

resource "aws_network_acl_rule" "public" {
  #checkov:skip=CKV_AWS_231:The 1024-65535 rule carries stateless replies to the NAT gateways and the ALB; nothing in the public subnets listens on 3389, and security groups guard every interface.
  for_each = local.public_nacl_rules

  network_acl_id = aws_network_acl.public.id
  egress         = each.value.egress
  rule_number    = each.value.rule_number
  rule_action    = "allow"
  protocol       = "tcp"
  from_port      = each.value.from
  to_port        = each.value.to
  cidr_block     = each.value.cidr
}

resource "aws_network_acl" "private" {
  vpc_id     = aws_vpc.this.id
  subnet_ids = aws_subnet.private[*].id

  tags = merge({ Name = "${var.name}-private" }, var.tags)
}

resource "aws_network_acl_rule" "private" {
  #checkov:skip=CKV_AWS_231:The 1024-65535 rule carries stateless replies to connections the instances open through the NAT gateway; the app security group admits only the app port from the ALB group.
  for_each = local.private_nacl_rules

  network_acl_id = aws_network_acl.private.id
  egress         = each.value.egress
  rule_number    = each.value.rule_number
  rule_action    = "allow"
  protocol       = "tcp"
  from_port      = each.value.from
  to_port        = each.value.to
  cidr_block     = each.value.cidr
}

resource "aws_network_acl" "database" {
  vpc_id     = aws_vpc.this.id
  subnet_ids = aws_subnet.database[*].id

  tags = merge({ Name = "${var.name}-database" }, var.tags)
}

resource "aws_network_acl_rule" "database" {
  for_each = local.database_nacl_rules

  network_acl_id = aws_network_acl.database.id
  egress         = each.value.egress
  rule_number    = each.value.rule_number
  rule_action    = "allow"
  protocol       = "tcp"
  from_port      = each.value.from
  to_port        = each.value.to
  cidr_block     = each.value.cidr
}
