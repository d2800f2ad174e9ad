# A minimal module that proves terraform, the provider mirror and `terraform test` work here.
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"
    }
  }
}

variable "cidr_block" {
  type        = string
  description = "CIDR of the VPC."

  validation {
    condition     = can(cidrhost(var.cidr_block, 0))
    error_message = "cidr_block must be an IPv4 CIDR such as 10.0.0.0/16."
  }
}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_hostnames = true
}

output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}
