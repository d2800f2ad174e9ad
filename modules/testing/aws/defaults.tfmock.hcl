# Mock-provider defaults every module's terraform tests share. A test file loads them with
#   mock_provider "aws" { source = "../testing/aws" }
# and adds only what is specific to its module. Real shapes matter: the provider validates ARN
# arguments even against a mock, and modules build ARNs from these account/region/partition values.

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/terraform"
    user_id    = "AIDATESTUSER"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition  = "aws"
    dns_suffix = "amazonaws.com"
  }
}

mock_data "aws_region" {
  defaults = {
    id   = "eu-west-1"
    name = "eu-west-1"
  }
}

mock_data "aws_elb_service_account" {
  defaults = {
    id  = "156460612806"
    arn = "arn:aws:iam::156460612806:root"
  }
}

mock_data "aws_availability_zones" {
  defaults = {
    names = ["eu-west-1a", "eu-west-1b", "eu-west-1c", "eu-west-1d", "eu-west-1e", "eu-west-1f"]
  }
}

mock_data "aws_iam_policy_document" {
  defaults = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  }
}

mock_resource "aws_kms_key" {
  override_during = plan # known at plan time, so plan-only runs can assert on them
  defaults = {
    # Every computed attribute a caller reads, so plan and apply agree on them.
    arn    = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    id     = "11111111-2222-3333-4444-555555555555"
    key_id = "11111111-2222-3333-4444-555555555555"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/ingest-test-mocked"
  }
}
