# Bad inputs are refused by the variables' validation blocks.

mock_provider "aws" {
  source = "../testing/aws"
}

variables {
  name             = "ingest-test"
  secrets          = { api-keys = { description = "API keys" } }
  reader_role_arns = ["arn:aws:iam::123456789012:role/ingest-test-instance"]
}

run "recovery_window_below_7" {
  command = plan
  variables {
    recovery_window_in_days = 3
  }
  expect_failures = [var.recovery_window_in_days]
}

run "recovery_window_above_30" {
  command = plan
  variables {
    recovery_window_in_days = 31
  }
  expect_failures = [var.recovery_window_in_days]
}

run "reader_is_not_a_role_arn" {
  command = plan
  variables {
    reader_role_arns = ["arn:aws:iam::123456789012:user/alice"]
  }
  expect_failures = [var.reader_role_arns]
}

run "reader_wildcard" {
  command = plan
  variables {
    reader_role_arns = ["arn:aws:iam::123456789012:role/*"]
  }
  expect_failures = [var.reader_role_arns]
}

run "bad_admin_role_arn" {
  command = plan
  variables {
    admin_role_arns = ["break-glass"]
  }
  expect_failures = [var.admin_role_arns]
}

run "secret_key_with_upper_case_and_space" {
  command = plan
  variables {
    secrets = { "API Keys" = { description = "API keys" } }
  }
  expect_failures = [var.secrets]
}

run "secret_key_with_slash" {
  command = plan
  variables {
    secrets = { "app/api-keys" = { description = "API keys" } }
  }
  expect_failures = [var.secrets]
}

run "empty_description" {
  command = plan
  variables {
    secrets = { api-keys = { description = "" } }
  }
  expect_failures = [var.secrets]
}

run "bad_rotation_lambda_arn" {
  command = plan
  variables {
    secrets = { api-keys = {
      description              = "API keys"
      rotation_lambda_arn      = "rotate-api-keys"
      rotation_lambda_role_arn = "arn:aws:iam::123456789012:role/rotate-api-keys"
    } }
  }
  expect_failures = [var.secrets]
}

run "rotation_lambda_without_its_role" {
  command = plan
  variables {
    secrets = { api-keys = {
      description         = "API keys"
      rotation_lambda_arn = "arn:aws:lambda:eu-west-1:123456789012:function:rotate-api-keys"
    } }
  }
  expect_failures = [var.secrets]
}

run "rotation_days_above_90" {
  command = plan
  variables {
    secrets = { api-keys = {
      description              = "API keys"
      rotation_lambda_arn      = "arn:aws:lambda:eu-west-1:123456789012:function:rotate-api-keys"
      rotation_lambda_role_arn = "arn:aws:iam::123456789012:role/rotate-api-keys"
      rotation_days            = 120
    } }
  }
  expect_failures = [var.secrets]
}

run "bad_kms_deletion_window" {
  command = plan
  variables {
    kms_deletion_window_in_days = 5
  }
  expect_failures = [var.kms_deletion_window_in_days]
}

run "bad_name" {
  command = plan
  variables {
    name = "x"
  }
  expect_failures = [var.name]
}
