# Bad inputs are refused by the variables' validation blocks.

mock_provider "aws" {
  source = "../testing/aws"
}

variables {
  name = "ingest-test"
}

run "visibility_timeout_above_12_hours" {
  command = plan
  variables {
    visibility_timeout_seconds = 43201
  }
  expect_failures = [var.visibility_timeout_seconds]
}

run "negative_visibility_timeout" {
  command = plan
  variables {
    visibility_timeout_seconds = -1
  }
  expect_failures = [var.visibility_timeout_seconds]
}

run "receive_wait_above_20" {
  command = plan
  variables {
    receive_wait_time_seconds = 21
  }
  expect_failures = [var.receive_wait_time_seconds]
}

run "max_receive_count_zero" {
  command = plan
  variables {
    max_receive_count = 0
  }
  expect_failures = [var.max_receive_count]
}

run "max_receive_count_above_1000" {
  command = plan
  variables {
    max_receive_count = 1001
  }
  expect_failures = [var.max_receive_count]
}

run "retention_too_short" {
  command = plan
  variables {
    message_retention_seconds = 30
  }
  expect_failures = [var.message_retention_seconds]
}

run "dlq_retention_above_14_days" {
  command = plan
  variables {
    dlq_message_retention_seconds = 1209601
  }
  expect_failures = [var.dlq_message_retention_seconds]
}

run "object_expiration_zero" {
  command = plan
  variables {
    object_expiration_days = 0
  }
  expect_failures = [var.object_expiration_days]
}

run "noncurrent_expiration_zero" {
  command = plan
  variables {
    noncurrent_version_expiration_days = 0
  }
  expect_failures = [var.noncurrent_version_expiration_days]
}

run "abort_multipart_zero" {
  command = plan
  variables {
    abort_incomplete_multipart_upload_days = 0
  }
  expect_failures = [var.abort_incomplete_multipart_upload_days]
}

run "overlapping_suffixes" {
  command = plan
  variables {
    filter_suffixes = [".csv", ".gz.csv"]
  }
  expect_failures = [var.filter_suffixes]
}

run "empty_suffix" {
  command = plan
  variables {
    filter_suffixes = [""]
  }
  expect_failures = [var.filter_suffixes]
}

run "bad_bucket_name" {
  command = plan
  variables {
    bucket_name = "Ingest_Bucket"
  }
  expect_failures = [var.bucket_name]
}

run "bad_kms_deletion_window" {
  command = plan
  variables {
    kms_deletion_window_in_days = 31
  }
  expect_failures = [var.kms_deletion_window_in_days]
}

run "bad_name" {
  command = plan
  variables {
    name = "ingest prod"
  }
  expect_failures = [var.name]
}
