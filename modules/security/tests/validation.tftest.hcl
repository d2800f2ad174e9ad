# Bad inputs are refused by the variables' validation blocks.

mock_provider "aws" {
  source = "../testing/aws"
}

variables {
  name             = "ingest-test"
  vpc_id           = "vpc-0123456789abcdef0"
  metric_namespace = "Ingest/test"
}

run "bad_name" {
  command = plan
  variables {
    name = "Ingest_Test"
  }
  expect_failures = [var.name]
}

run "bad_vpc_id" {
  command = plan
  variables {
    vpc_id = "vpc-xyz"
  }
  expect_failures = [var.vpc_id]
}

run "bad_alb_cidr" {
  command = plan
  variables {
    alb_ingress_cidrs = ["10.0.0.0/33"]
  }
  expect_failures = [var.alb_ingress_cidrs]
}

run "ipv6_alb_cidr" {
  command = plan
  variables {
    alb_ingress_cidrs = ["::/0"]
  }
  expect_failures = [var.alb_ingress_cidrs]
}

run "empty_alb_cidrs" {
  command = plan
  variables {
    alb_ingress_cidrs = []
  }
  expect_failures = [var.alb_ingress_cidrs]
}

run "app_port_out_of_range" {
  command = plan
  variables {
    app_port = 70000
  }
  expect_failures = [var.app_port]
}

run "app_port_ssh" {
  command = plan
  variables {
    app_port = 22
  }
  expect_failures = [var.app_port]
}

run "bad_database_port" {
  command = plan
  variables {
    database_port = 0
  }
  expect_failures = [var.database_port]
}

run "wildcard_secret_arn" {
  command = plan
  variables {
    app_secret_arns = ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:*"]
  }
  expect_failures = [var.app_secret_arns]
}

run "alias_instead_of_key_arn" {
  command = plan
  variables {
    kms_key_arns = ["alias/aws/secretsmanager"]
  }
  expect_failures = [var.kms_key_arns]
}

run "aws_namespace" {
  command = plan
  variables {
    metric_namespace = "AWS/EC2"
  }
  expect_failures = [var.metric_namespace]
}

run "log_group_arn_with_wildcard" {
  command = plan
  variables {
    log_group_arns = ["arn:aws:logs:eu-west-1:123456789012:log-group:/ingest-test/app:*"]
  }
  expect_failures = [var.log_group_arns]
}

run "bucket_name_instead_of_arn" {
  command = plan
  variables {
    ingest_bucket_arn = "ingest-test-bucket"
  }
  expect_failures = [var.ingest_bucket_arn]
}

run "queue_url_instead_of_arn" {
  command = plan
  variables {
    ingest_queue_arn = "https://sqs.eu-west-1.amazonaws.com/123456789012/ingest"
  }
  expect_failures = [var.ingest_queue_arn]
}

run "bad_cluster_resource_id" {
  command = plan
  variables {
    database_cluster_resource_id = "my-cluster"
  }
  expect_failures = [var.database_cluster_resource_id]
}

run "bad_database_iam_username" {
  command = plan
  variables {
    database_iam_username = "app-user"
  }
  expect_failures = [var.database_iam_username]
}
