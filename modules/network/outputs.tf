output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "azs" {
  description = "Availability zones the subnets are spread across, in subnet order."
  value       = local.azs
}

output "public_subnet_ids" {
  description = "IDs of the public subnets (ALB, NAT gateways), one per AZ in `azs` order."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "IDs of the private (app) subnets, one per AZ in `azs` order."
  value       = aws_subnet.private[*].id
}

output "database_subnet_ids" {
  description = "IDs of the database subnets (no internet route), one per AZ in `azs` order."
  value       = aws_subnet.database[*].id
}

output "public_subnet_cidr_blocks" {
  description = "CIDR blocks of the public subnets, in `azs` order."
  value       = aws_subnet.public[*].cidr_block
}

output "private_subnet_cidr_blocks" {
  description = "CIDR blocks of the private (app) subnets, in `azs` order."
  value       = aws_subnet.private[*].cidr_block
}

output "database_subnet_cidr_blocks" {
  description = "CIDR blocks of the database subnets, in `azs` order."
  value       = aws_subnet.database[*].cidr_block
}

output "nat_gateway_ids" {
  description = "IDs of the NAT gateways: one per AZ (`nat_mode = per_az`) or one (`single`)."
  value       = aws_nat_gateway.this[*].id
}

output "nat_public_ips" {
  description = "Public IPv4 addresses of the NAT gateways (the app's egress addresses, for third-party allow-lists)."
  value       = aws_eip.nat[*].public_ip
}

output "public_route_table_id" {
  description = "ID of the public route table."
  value       = aws_route_table.public.id
}

output "private_route_table_ids" {
  description = "IDs of the private route tables, one per AZ in `azs` order (e.g. for gateway VPC endpoints)."
  value       = aws_route_table.private[*].id
}

output "database_route_table_id" {
  description = "ID of the database route table (VPC-local routes only)."
  value       = aws_route_table.database.id
}

output "flow_log_group_name" {
  description = "Name of the CloudWatch log group receiving the VPC flow logs."
  value       = aws_cloudwatch_log_group.flow_logs.name
}

output "flow_log_kms_key_arn" {
  description = "ARN of the KMS key encrypting the flow log group."
  value       = module.kms.arn
}

output "s3_gateway_endpoint_id" {
  description = "ID of the S3 gateway endpoint (vpce-...); null when enable_vpc_endpoints is false."
  value       = one(aws_vpc_endpoint.s3[*].id)
}

output "interface_endpoint_ids" {
  description = "Map of service name (ssm, sqs, ...) to interface endpoint ID; empty when enable_vpc_endpoints is false."
  value       = { for service, endpoint in aws_vpc_endpoint.interface : service => endpoint.id }
}

output "endpoint_security_group_id" {
  description = "ID of the interface endpoints' security group (HTTPS from the VPC); null when enable_vpc_endpoints is false."
  value       = one(aws_security_group.endpoints[*].id)
}
