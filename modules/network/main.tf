# Looked up only when the caller does not pin the zones with var.azs.
data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Read only when var.azs is unset (setting azs pins the zones; prod should). Only the first az_count names in sorted order are used, so a newly added zone (a later letter) does not move existing subnets.
  count = var.azs == null ? 1 : 0

  state = "available"

  # Local and Wavelength zones (e.g. us-west-2-lax-1a) sort before the regular zones and
  # cannot host NAT gateways or Aurora: keep them out.
  filter {
    name   = "zone-type"
    values = ["availability-zone"]
  }
}

locals {
  azs = var.azs != null ? var.azs : slice(data.aws_availability_zones.available[0].names, 0, var.az_count)

  # Subnet layout: the VPC CIDR (/N) is split into eighths.
  #   eighths 0-5: one private (app) subnet per AZ, /N+3 (the largest tier: the instances live here)
  #   eighth 6:    split into eight /N+6 blocks, one public subnet per AZ (ALB and NAT gateways)
  #   eighth 7:    split into eight /N+6 blocks, one database subnet per AZ
  # For 10.0.0.0/16: private 10.0.0.0/19, 10.0.32.0/19, ...; public 10.0.192.0/22, ...; database 10.0.224.0/22, ...
  private_subnet_cidrs  = [for i in range(var.az_count) : cidrsubnet(var.cidr_block, 3, i)]
  public_subnet_cidrs   = [for i in range(var.az_count) : cidrsubnet(var.cidr_block, 6, 48 + i)]
  database_subnet_cidrs = [for i in range(var.az_count) : cidrsubnet(var.cidr_block, 6, 56 + i)]

  nat_count = var.nat_mode == "per_az" ? var.az_count : 1
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge({ Name = var.name }, var.tags)

  lifecycle {
    precondition {
      condition     = try(length(var.azs), var.az_count) == var.az_count
      error_message = "azs, when set, must hold exactly az_count zone names."
    }
    precondition {
      condition     = var.azs != null || try(length(data.aws_availability_zones.available[0].names), 0) >= var.az_count
      error_message = "The region has fewer available zones than az_count."
    }
  }
}

# Take over the VPC's default security group and remove all its rules, so that nothing
# attached to it by accident can talk to anything.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge({ Name = "${var.name}-default-closed" }, var.tags)
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id

  tags = merge({ Name = var.name }, var.tags)
}

################################################################################
# Subnets
################################################################################

resource "aws_subnet" "public" {
  count = var.az_count

  vpc_id            = aws_vpc.this.id
  cidr_block        = local.public_subnet_cidrs[count.index]
  availability_zone = local.azs[count.index]
  # The ALB and NAT gateways get their public addresses explicitly; nothing else should.
  map_public_ip_on_launch = false

  tags = merge({ Name = "${var.name}-public-${local.azs[count.index]}", Tier = "public" }, var.tags)
}

resource "aws_subnet" "private" {
  count = var.az_count

  vpc_id            = aws_vpc.this.id
  cidr_block        = local.private_subnet_cidrs[count.index]
  availability_zone = local.azs[count.index]

  tags = merge({ Name = "${var.name}-private-${local.azs[count.index]}", Tier = "private" }, var.tags)
}

resource "aws_subnet" "database" {
  count = var.az_count

  vpc_id            = aws_vpc.this.id
  cidr_block        = local.database_subnet_cidrs[count.index]
  availability_zone = local.azs[count.index]

  tags = merge({ Name = "${var.name}-database-${local.azs[count.index]}", Tier = "database" }, var.tags)
}

################################################################################
# NAT gateways
################################################################################

resource "aws_eip" "nat" {
  count = local.nat_count

  domain = "vpc"

  tags = merge({ Name = "${var.name}-nat-${local.azs[count.index]}" }, var.tags)

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  count = local.nat_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = merge({ Name = "${var.name}-${local.azs[count.index]}" }, var.tags)

  depends_on = [aws_internet_gateway.this]
}

################################################################################
# Route tables: public -> internet gateway; private (one per AZ) -> that AZ's NAT
# gateway (or the single one); database -> nothing but the VPC-local route.
################################################################################

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  tags = merge({ Name = "${var.name}-public" }, var.tags)
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count = var.az_count

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "private" {
  count = var.az_count

  vpc_id = aws_vpc.this.id

  tags = merge({ Name = "${var.name}-private-${local.azs[count.index]}" }, var.tags)
}

resource "aws_route" "private_nat" {
  count = var.az_count

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[var.nat_mode == "per_az" ? count.index : 0].id
}

resource "aws_route_table_association" "private" {
  count = var.az_count

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

resource "aws_route_table" "database" {
  vpc_id = aws_vpc.this.id

  tags = merge({ Name = "${var.name}-database" }, var.tags)
}

resource "aws_route_table_association" "database" {
  count = var.az_count

  subnet_id      = aws_subnet.database[count.index].id
  route_table_id = aws_route_table.database.id
}
