# Fixture for tests/opsctl/test_tools.py: arguments that do not exist in AWS provider 6.x.
resource "aws_vpc" "this" {
  cidr_block = "10.0.0.0/16"
  not_an_arg = true # comment kept by python-hcl2

  lifecycle {
    ignore_changes = [tags]
  }
}

resource "aws_launch_template" "this" {
  metadata_options {
    http_tokens = "required"
    made_up     = 1
  }

  dynamic "block_device_mappings" {
    for_each = [1]
    content {
      device_name = "/dev/xvda"
      ebs {
        encrypted = true
        invented  = 1
      }
    }
  }
}

resource "aws_instance_that_never_was" "this" {}
