mock_provider "aws" {}

run "creates_vpc_with_dns" {
  command = plan

  variables {
    cidr_block = "10.20.0.0/16"
  }

  assert {
    condition     = aws_vpc.this.cidr_block == "10.20.0.0/16" && aws_vpc.this.enable_dns_hostnames
    error_message = "VPC must use the given CIDR with DNS hostnames"
  }
}

run "rejects_bad_cidr" {
  command = plan

  variables {
    cidr_block = "not-a-cidr"
  }

  expect_failures = [var.cidr_block]
}
