# The key building block on its own, against the shared mock provider.

mock_provider "aws" {
  source = "../testing/aws"
}

variables {
  name        = "ingest-test-thing"
  description = "ingest-test things"
  tags        = { Environment = "test" }
}

run "administration_only_by_default" {
  command = plan

  assert {
    condition = (
      aws_kms_key.this.enable_key_rotation == true &&
      aws_kms_key.this.deletion_window_in_days == 30 &&
      aws_kms_alias.this.name == "alias/ingest-test-thing"
    )
    error_message = "The key must rotate, wait 30 days before deletion, and be aliased alias/<name>."
  }
  assert {
    condition = jsondecode(aws_kms_key.this.policy).Statement == [{
      Sid       = "AccountAdministration"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::123456789012:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
    error_message = "Without policy_statements the policy is the account administration statement alone."
  }
  assert {
    condition     = aws_kms_key.this.tags["Name"] == "ingest-test-thing" && aws_kms_key.this.tags["Environment"] == "test"
    error_message = "The key must carry Name and var.tags."
  }
}

run "extra_statements_follow_administration" {
  command = plan

  variables {
    deletion_window_in_days = 7
    policy_statements = [{
      Sid       = "Logs"
      Effect    = "Allow"
      Principal = { Service = "logs.eu-west-1.amazonaws.com" }
      Action    = ["kms:Encrypt*"]
      Resource  = "*"
    }]
  }

  assert {
    condition     = [for s in jsondecode(aws_kms_key.this.policy).Statement : s.Sid] == ["AccountAdministration", "Logs"]
    error_message = "Caller statements come after the administration statement, in order."
  }
  assert {
    condition     = aws_kms_key.this.deletion_window_in_days == 7
    error_message = "deletion_window_in_days must reach the key."
  }
}

run "rejects_duplicate_administration_sid" {
  command = plan

  variables {
    policy_statements = [{ Sid = "AccountAdministration", Effect = "Allow", Action = "kms:*" }]
  }

  expect_failures = [var.policy_statements]
}

run "rejects_deletion_window_outside_kms_range" {
  command = plan

  variables {
    deletion_window_in_days = 31
  }

  expect_failures = [var.deletion_window_in_days]
}
