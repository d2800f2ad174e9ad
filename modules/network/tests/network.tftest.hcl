mock_provider "aws" {
  source = "../testing/aws"

  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/vpc/ingest-test/flow-logs" }
  }
}

variables {
  name = "ingest-test"
}

run "defaults_three_azs_per_az_nat" {
  command = plan

  assert {
    condition     = aws_vpc.this.enable_dns_support && aws_vpc.this.enable_dns_hostnames
    error_message = "The VPC must have DNS support and DNS hostnames."
  }
  assert {
    condition     = length(aws_subnet.public) == 3 && length(aws_subnet.private) == 3 && length(aws_subnet.database) == 3
    error_message = "Each tier must have one subnet per AZ (3 by default)."
  }
  assert {
    condition     = length(aws_nat_gateway.this) == 3 && length(aws_eip.nat) == 3
    error_message = "per_az must create one NAT gateway (and EIP) per AZ."
  }
  assert {
    condition     = output.azs == tolist(["eu-west-1a", "eu-west-1b", "eu-west-1c"])
    error_message = "Without azs the first az_count available zones are used."
  }
  assert {
    condition     = [for s in aws_subnet.private : s.availability_zone] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    error_message = "Private subnets must be spread across the AZs in order."
  }
  assert {
    condition = (
      aws_subnet.private[*].cidr_block == ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"] &&
      aws_subnet.public[*].cidr_block == ["10.0.192.0/22", "10.0.196.0/22", "10.0.200.0/22"] &&
      aws_subnet.database[*].cidr_block == ["10.0.224.0/22", "10.0.228.0/22", "10.0.232.0/22"]
    )
    error_message = "Subnet CIDRs must follow the documented layout."
  }
  assert {
    condition     = alltrue([for s in aws_subnet.public : s.map_public_ip_on_launch == false])
    error_message = "Public subnets must not hand out public IPs automatically."
  }
  assert {
    condition     = aws_subnet.public[0].tags["Name"] == "ingest-test-public-eu-west-1a"
    error_message = "Subnets must be named after their tier and AZ."
  }
}

run "two_azs" {
  command = plan

  variables {
    az_count = 2
  }

  assert {
    condition     = length(aws_subnet.public) == 2 && length(aws_subnet.private) == 2 && length(aws_subnet.database) == 2
    error_message = "az_count = 2 must give two subnets per tier."
  }
  assert {
    condition     = length(aws_nat_gateway.this) == 2 && length(aws_route_table.private) == 2
    error_message = "az_count = 2 with per_az must give two NAT gateways and two private route tables."
  }
}

run "six_azs" {
  command = plan

  variables {
    az_count = 6
  }

  assert {
    condition     = length(aws_subnet.public) == 6 && length(aws_subnet.private) == 6 && length(aws_subnet.database) == 6
    error_message = "az_count = 6 must give six subnets per tier."
  }
  assert {
    condition     = length(aws_nat_gateway.this) == 6
    error_message = "az_count = 6 with per_az must give six NAT gateways."
  }
  assert {
    condition = length(distinct(concat(
      aws_subnet.public[*].cidr_block, aws_subnet.private[*].cidr_block, aws_subnet.database[*].cidr_block
    ))) == 18
    error_message = "The 18 subnet CIDRs must all differ."
  }
}

run "single_nat" {
  command = plan

  variables {
    nat_mode = "single"
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 1 && length(aws_eip.nat) == 1
    error_message = "single must create exactly one NAT gateway and EIP."
  }
  assert {
    condition     = length(aws_route.private_nat) == 3
    error_message = "Every private route table still needs a default route."
  }
}

run "explicit_azs_and_small_cidr" {
  command = plan

  variables {
    azs        = ["us-east-1a", "us-east-1c"]
    az_count   = 2
    cidr_block = "172.16.0.0/21"
  }

  assert {
    condition     = output.azs == tolist(["us-east-1a", "us-east-1c"]) && aws_subnet.database[1].availability_zone == "us-east-1c"
    error_message = "Explicit azs must be used as given."
  }
  assert {
    condition     = aws_subnet.public[0].cidr_block == "172.16.6.0/27" && aws_subnet.private[0].cidr_block == "172.16.0.0/24"
    error_message = "A /21 must still give /27 public subnets (the ALB minimum)."
  }
}

run "routes_and_encryption" {
  command = apply

  assert {
    condition = (
      !contains([for r in aws_route.private_nat : r.route_table_id], aws_route_table.database.id) &&
      aws_route.public_internet.route_table_id != aws_route_table.database.id
    )
    error_message = "The database route table must have no 0.0.0.0/0 route."
  }
  assert {
    condition     = !contains(aws_route_table_association.database[*].route_table_id, aws_route_table.public.id) && length(aws_route_table_association.database) == 3
    error_message = "Database subnets must be associated with the database route table only."
  }
  assert {
    condition     = [for r in aws_route.private_nat : r.nat_gateway_id] == aws_nat_gateway.this[*].id
    error_message = "Each private route table must route 0.0.0.0/0 to its own AZ's NAT gateway."
  }
  assert {
    condition     = aws_route.public_internet.gateway_id == aws_internet_gateway.this.id && aws_route.public_internet.destination_cidr_block == "0.0.0.0/0"
    error_message = "The public route table must route 0.0.0.0/0 to the internet gateway."
  }
  assert {
    condition     = length(aws_default_security_group.this.ingress) == 0 && length(aws_default_security_group.this.egress) == 0
    error_message = "The default security group must have no rules."
  }
  assert {
    condition     = aws_default_security_group.this.vpc_id == aws_vpc.this.id
    error_message = "The default security group managed must be this VPC's."
  }
  assert {
    condition     = aws_cloudwatch_log_group.flow_logs.kms_key_id == module.kms.arn && module.kms.rotation_enabled
    error_message = "The flow log group must be encrypted with the rotating module key."
  }
  assert {
    condition     = aws_flow_log.this.log_destination == aws_cloudwatch_log_group.flow_logs.arn && aws_flow_log.this.iam_role_arn == aws_iam_role.flow_logs.arn
    error_message = "The flow log must deliver to the log group with the module role."
  }
}

run "single_nat_routes" {
  command = apply

  variables {
    nat_mode = "single"
  }

  assert {
    condition     = alltrue([for r in aws_route.private_nat : r.nat_gateway_id == aws_nat_gateway.this[0].id])
    error_message = "With single, every private route table must use the one NAT gateway."
  }
}

run "database_nacl_admits_only_app_subnets" {
  command = plan

  assert {
    condition     = length(aws_network_acl_rule.database) == 6
    error_message = "The database NACL must hold exactly one ingress and one egress rule per app subnet."
  }
  assert {
    condition = alltrue([
      for r in aws_network_acl_rule.database : r.from_port == 3306 && r.to_port == 3306 && r.protocol == "tcp" && r.rule_action == "allow"
      if !r.egress
    ])
    error_message = "The database NACL may admit only TCP 3306."
  }
  assert {
    condition     = toset([for r in aws_network_acl_rule.database : r.cidr_block if !r.egress]) == toset(aws_subnet.private[*].cidr_block)
    error_message = "The database NACL may admit traffic only from the app subnets' CIDRs."
  }
  assert {
    condition     = toset([for r in aws_network_acl_rule.database : r.cidr_block if r.egress]) == toset(aws_subnet.private[*].cidr_block)
    error_message = "The database NACL may answer only the app subnets."
  }
}

run "public_and_app_nacls" {
  command = plan

  assert {
    condition     = toset([for r in aws_network_acl_rule.public : r.from_port if !r.egress && r.cidr_block == "0.0.0.0/0"]) == toset([80, 443, 1024])
    error_message = "The public NACL must admit 80, 443 and the ephemeral range from anywhere, nothing else."
  }
  assert {
    condition = (
      aws_network_acl_rule.private["in_app"].from_port == 80 &&
      aws_network_acl_rule.private["in_app"].cidr_block == "10.0.0.0/16"
    )
    error_message = "The app NACL must admit the app port from the VPC CIDR."
  }
  assert {
    condition     = length([for r in aws_network_acl_rule.private : r if !r.egress]) == 2
    error_message = "The app NACL must admit only the app port and the ephemeral return range."
  }
}

run "flow_log_policies" {
  command = plan

  assert {
    condition     = aws_flow_log.this.traffic_type == "ALL" && aws_cloudwatch_log_group.flow_logs.retention_in_days == 365
    error_message = "Flow logs must capture ALL traffic and keep it 365 days by default."
  }
  assert {
    condition = (
      jsondecode(aws_iam_role.flow_logs.assume_role_policy).Statement[0].Principal.Service == "vpc-flow-logs.amazonaws.com" &&
      jsondecode(aws_iam_role.flow_logs.assume_role_policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "123456789012"
    )
    error_message = "The flow log role must trust only vpc-flow-logs.amazonaws.com from this account."
  }
  assert {
    condition = (
      jsondecode(module.kms.policy).Statement[1].Principal.Service == "logs.eu-west-1.amazonaws.com" &&
      jsondecode(module.kms.policy).Statement[1].Condition.ArnEquals["kms:EncryptionContext:aws:logs:arn"] == "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/vpc/ingest-test/flow-logs"
    )
    error_message = "The key policy must admit CloudWatch Logs of this region for the flow log group only."
  }
}

run "flow_log_role_policy_scoped" {
  command = apply

  assert {
    condition = toset(jsondecode(aws_iam_role_policy.flow_logs.policy).Statement[0].Resource) == toset([
      aws_cloudwatch_log_group.flow_logs.arn, "${aws_cloudwatch_log_group.flow_logs.arn}:*"
    ])
    error_message = "The flow log role may write only to its log group."
  }
}

run "reject_az_count_1" {
  command = plan
  variables {
    az_count = 1
  }
  expect_failures = [var.az_count]
}

run "reject_az_count_7" {
  command = plan
  variables {
    az_count = 7
  }
  expect_failures = [var.az_count]
}

run "reject_cidr_not_a_cidr" {
  command = plan
  variables {
    cidr_block = "10.0.0.0"
  }
  expect_failures = [var.cidr_block]
}

run "reject_cidr_too_large" {
  command = plan
  variables {
    cidr_block = "10.0.0.0/8"
  }
  expect_failures = [var.cidr_block]
}

run "reject_cidr_too_small" {
  command = plan
  variables {
    cidr_block = "10.0.0.0/24"
  }
  expect_failures = [var.cidr_block]
}

run "reject_cidr_host_bits" {
  command = plan
  variables {
    cidr_block = "10.0.1.0/16"
  }
  expect_failures = [var.cidr_block]
}

run "reject_nat_mode" {
  command = plan
  variables {
    nat_mode = "none"
  }
  expect_failures = [var.nat_mode]
}

run "reject_retention" {
  command = plan
  variables {
    flow_log_retention_days = 42
  }
  expect_failures = [var.flow_log_retention_days]
}

run "reject_bad_name" {
  command = plan
  variables {
    name = "Ingest_Prod"
  }
  expect_failures = [var.name]
}

run "reject_azs_not_matching_az_count" {
  command = plan
  variables {
    azs = ["eu-west-1a", "eu-west-1b"]
  }
  expect_failures = [aws_vpc.this]
}

# Finding 14 (issue 16): the role VPC Flow Logs assumes has what AWS's documented role has.
run "finding_14_flow_log_role_can_describe_log_groups" {
  command = plan

  assert {
    condition = anytrue([for st in jsondecode(aws_iam_role_policy.flow_logs.policy).Statement :
    contains(flatten([st.Action]), "logs:DescribeLogGroups")])
    error_message = "Finding 14: the flow-log role needs logs:DescribeLogGroups."
  }
}

# Issue 16, finding 19: VPC endpoints, off by default.
run "finding_19_no_vpc_endpoints_by_default" {
  command = plan

  assert {
    condition     = length(aws_vpc_endpoint.s3) == 0 && length(aws_vpc_endpoint.interface) == 0 && length(aws_security_group.endpoints) == 0
    error_message = "VPC endpoints must be off unless enable_vpc_endpoints is set."
  }
  assert {
    condition     = !contains(keys(aws_network_acl_rule.private), "in_endpoints")
    error_message = "Without endpoints the private NACL must not admit 443 from the VPC."
  }
}

run "finding_19_vpc_endpoints" {
  command = plan

  variables {
    az_count             = 2
    enable_vpc_endpoints = true
  }

  assert {
    condition = (
      aws_vpc_endpoint.s3[0].vpc_endpoint_type == "Gateway" &&
      aws_vpc_endpoint.s3[0].service_name == "com.amazonaws.eu-west-1.s3" &&
      length(aws_vpc_endpoint.s3[0].route_table_ids) == 2
    )
    error_message = "S3 must get a gateway endpoint on both private route tables."
  }
  assert {
    condition     = toset(keys(aws_vpc_endpoint.interface)) == toset(["ec2messages", "kms", "logs", "monitoring", "secretsmanager", "sqs", "ssm", "ssmmessages", "sts"])
    error_message = "Every API the instances call must get an interface endpoint."
  }
  assert {
    condition = alltrue([for s, e in aws_vpc_endpoint.interface :
      e.vpc_endpoint_type == "Interface" && e.private_dns_enabled == true &&
      e.service_name == "com.amazonaws.eu-west-1.${s}" && length(e.subnet_ids) == 2
    ])
    error_message = "Interface endpoints must use private DNS, in the private subnets."
  }
  assert {
    condition = (
      aws_vpc_security_group_ingress_rule.endpoints_https[0].from_port == 443 &&
      aws_vpc_security_group_ingress_rule.endpoints_https[0].to_port == 443 &&
      aws_vpc_security_group_ingress_rule.endpoints_https[0].cidr_ipv4 == "10.0.0.0/16"
    )
    error_message = "The endpoints' security group must admit HTTPS from the VPC CIDR only."
  }
  assert {
    condition = (
      aws_network_acl_rule.private["in_endpoints"].egress == false &&
      aws_network_acl_rule.private["in_endpoints"].from_port == 443 &&
      aws_network_acl_rule.private["in_endpoints"].cidr_block == "10.0.0.0/16"
    )
    error_message = "The private NACL must admit 443 from the VPC (instances in other AZs reach the endpoints)."
  }
}
