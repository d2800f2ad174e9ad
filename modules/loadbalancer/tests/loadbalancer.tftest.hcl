mock_provider "aws" {
  source = "../testing/aws"
}

variables {
  name               = "ingest-test"
  vpc_id             = "vpc-0123456789abcdef0"
  subnet_ids         = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
  security_group_ids = ["sg-0123456789abcdef0"]
  certificate_arn    = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
  tags               = { env = "test" }
}

run "alb_defaults" {
  command = plan

  assert {
    condition     = aws_lb.this.internal == false && aws_lb.this.load_balancer_type == "application"
    error_message = "The ALB must be internet-facing and of type application."
  }

  assert {
    condition     = aws_lb.this.drop_invalid_header_fields == true
    error_message = "The ALB must drop invalid header fields."
  }

  assert {
    condition     = aws_lb.this.enable_deletion_protection == true
    error_message = "Deletion protection must be on by default."
  }

  assert {
    condition     = aws_lb.this.desync_mitigation_mode == "strictest" && aws_lb.this.enable_http2 == true
    error_message = "Desync mitigation must be strictest and HTTP/2 on."
  }

  assert {
    condition     = aws_lb.this.idle_timeout == 60
    error_message = "The idle timeout must default to 60 s (below the app's 65 s keep-alive)."
  }

  assert {
    condition     = aws_lb.this.access_logs[0].enabled == true && aws_lb.this.access_logs[0].prefix == "alb" && module.access_log_bucket.name == "ingest-test-alb-logs-123456789012"
    error_message = "Access logs must be on, under alb/, in the module's bucket."
  }

  assert {
    condition     = aws_lb.this.tags["Name"] == "ingest-test" && aws_lb.this.tags["env"] == "test"
    error_message = "The ALB must carry Name and var.tags."
  }
}

# The bucket itself is modules/s3-bucket (its tests cover public access and ownership); this
# asserts what the ALB needs of it, through the child module's outputs.
run "access_log_bucket" {
  command = plan

  override_resource {
    target          = module.access_log_bucket.aws_s3_bucket.this
    override_during = plan
    values = {
      id  = "ingest-test-alb-logs-123456789012"
      arn = "arn:aws:s3:::ingest-test-alb-logs-123456789012"
    }
  }

  assert {
    condition     = module.access_log_bucket.sse_algorithm == "AES256" && module.access_log_bucket.kms_key_arn == null
    error_message = "ALB log delivery supports only SSE-S3: the bucket must use AES256."
  }

  assert {
    condition     = module.access_log_bucket.versioning_status == "Enabled"
    error_message = "The access-log bucket must be versioned."
  }

  assert {
    condition = (
      module.access_log_bucket.lifecycle_rules[0].expiration_days == 90 &&
      module.access_log_bucket.lifecycle_rules[0].noncurrent_version_expiration_days == 30 &&
      module.access_log_bucket.lifecycle_rules[0].abort_incomplete_multipart_upload_days == 7
    )
    error_message = "Logs expire after access_log_retention_days (90), old versions after 30 days, uploads after 7."
  }

  assert {
    condition = (
      [for s in jsondecode(module.access_log_bucket.policy).Statement : s.Sid] == ["AllowElbAccountLogDelivery", "AllowElbLogDelivery", "DenyInsecureTransport"] &&
      jsondecode(module.access_log_bucket.policy).Statement[0].Principal.AWS == "arn:aws:iam::156460612806:root" &&
      jsondecode(module.access_log_bucket.policy).Statement[1].Principal.Service == "logdelivery.elasticloadbalancing.amazonaws.com" &&
      [for s in slice(jsondecode(module.access_log_bucket.policy).Statement, 0, 2) : s.Resource] == ["arn:aws:s3:::ingest-test-alb-logs-123456789012/alb/AWSLogs/123456789012/*", "arn:aws:s3:::ingest-test-alb-logs-123456789012/alb/AWSLogs/123456789012/*"] &&
      jsondecode(module.access_log_bucket.policy).Statement[2].Condition == { Bool = { "aws:SecureTransport" = "false" } }
    )
    error_message = "The policy must let eu-west-1's ELB account and the ELB log-delivery service write under alb/AWSLogs/<account>/, and deny requests without TLS."
  }

  assert {
    condition     = output.access_log_bucket_name == "ingest-test-alb-logs-123456789012" && aws_lb.this.access_logs[0].bucket == output.access_log_bucket_name
    error_message = "The ALB must log to the module's bucket."
  }
}

run "access_log_bucket_in_a_region_without_an_elb_account" {
  command = plan

  variables {
    access_log_elb_account = false
  }

  override_resource {
    target          = module.access_log_bucket.aws_s3_bucket.this
    override_during = plan
    values = {
      id  = "ingest-test-alb-logs-123456789012"
      arn = "arn:aws:s3:::ingest-test-alb-logs-123456789012"
    }
  }

  assert {
    condition     = [for s in jsondecode(module.access_log_bucket.policy).Statement : s.Sid] == ["AllowElbLogDelivery", "DenyInsecureTransport"]
    error_message = "Without the region's ELB account only the log-delivery service principal is admitted."
  }
}

run "http_redirects_to_https" {
  command = plan

  assert {
    condition     = aws_lb_listener.http.port == 80 && aws_lb_listener.http.protocol == "HTTP"
    error_message = "The HTTP listener must listen on 80."
  }

  assert {
    condition     = aws_lb_listener.http.default_action[0].type == "redirect"
    error_message = "The HTTP listener must redirect."
  }

  assert {
    condition = (
      aws_lb_listener.http.default_action[0].redirect[0].protocol == "HTTPS" &&
      aws_lb_listener.http.default_action[0].redirect[0].port == "443" &&
      aws_lb_listener.http.default_action[0].redirect[0].status_code == "HTTP_301"
    )
    error_message = "The redirect must be HTTPS, port 443, HTTP_301."
  }
}

run "https_listener" {
  command = plan

  assert {
    condition     = aws_lb_listener.https.port == 443 && aws_lb_listener.https.protocol == "HTTPS"
    error_message = "The HTTPS listener must listen on 443."
  }

  assert {
    condition     = aws_lb_listener.https.ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    error_message = "The HTTPS listener must default to the TLS 1.3/1.2 policy."
  }

  assert {
    condition     = aws_lb_listener.https.certificate_arn == var.certificate_arn
    error_message = "The given certificate must be used."
  }

  assert {
    condition     = length(aws_acm_certificate.this) == 0 && length(aws_acm_certificate_validation.this) == 0
    error_message = "No certificate may be requested when certificate_arn is given."
  }
}

run "weighted_forward_100_0" {
  # apply (with mocks) so the target group ARNs are known and can be matched to their weights.
  command = apply

  variables {
    deletion_protection = false
  }

  # The provider validates ARNs, so the mocked ones must look real.
  override_resource {
    target = aws_lb.this
    values = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/ingest-test/50dc6c495c0c9188"
      arn_suffix = "app/ingest-test/50dc6c495c0c9188"
    }
  }

  override_resource {
    target = aws_lb_listener.https
    values = {
      arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/ingest-test/50dc6c495c0c9188/f2f7dc8efc522ab2"
    }
  }

  override_resource {
    target = aws_lb_listener.http
    values = {
      arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/ingest-test/50dc6c495c0c9188/0467ef3c8400ae65"
    }
  }

  override_resource {
    target = aws_lb_target_group.this["blue"]
    values = {
      arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ingest-test-blue/73e2d6bc24d8a067"
    }
  }

  override_resource {
    target = aws_lb_target_group.this["green"]
    values = {
      arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ingest-test-green/0467ef3c8400ae65"
    }
  }

  assert {
    condition     = aws_lb_listener.https.default_action[0].type == "forward"
    error_message = "The HTTPS default action must forward."
  }

  assert {
    condition     = length(aws_lb_listener.https.default_action[0].forward[0].target_group) == 2
    error_message = "The forward must cover both target groups."
  }

  assert {
    condition = alltrue([
      for tg in aws_lb_listener.https.default_action[0].forward[0].target_group :
      tg.weight == (tg.arn == aws_lb_target_group.this["blue"].arn ? 100 : 0)
    ])
    error_message = "Blue must start with weight 100 and green with 0."
  }

  assert {
    condition     = toset([for tg in aws_lb_listener.https.default_action[0].forward[0].target_group : tg.arn]) == toset([aws_lb_target_group.this["blue"].arn, aws_lb_target_group.this["green"].arn])
    error_message = "The forward must point at the blue and green groups."
  }

  assert {
    condition     = aws_lb.this.enable_deletion_protection == false
    error_message = "deletion_protection = false must switch protection off."
  }
}

run "target_groups" {
  command = plan

  assert {
    condition     = toset(keys(aws_lb_target_group.this)) == toset(["blue", "green"])
    error_message = "There must be a blue and a green target group."
  }

  assert {
    condition = alltrue([for tg in aws_lb_target_group.this :
      tg.protocol == "HTTP" && tg.port == 80 && tg.target_type == "instance" && tg.deregistration_delay == "30"
    ])
    error_message = "Target groups must be HTTP on port 80, instance targets, 30 s deregistration delay."
  }

  assert {
    condition = alltrue([for tg in aws_lb_target_group.this :
      tg.health_check[0].path == "/health" && tg.health_check[0].matcher == "200" && tg.health_check[0].enabled
    ])
    error_message = "Health checks must probe /health and expect 200."
  }

  assert {
    condition     = alltrue([for tg in aws_lb_target_group.this : tg.stickiness[0].enabled == false])
    error_message = "Stickiness must be off by default."
  }

  assert {
    condition     = aws_lb_target_group.this["green"].name_prefix == "green-" && aws_lb_target_group.this["green"].tags["Name"] == "ingest-test-green"
    error_message = "Target groups must take the colour as name_prefix and be tagged Name = NAME-COLOUR."
  }
}

run "stickiness_on" {
  command = plan

  variables {
    stickiness_duration = 3600
    slow_start          = 60
    target_port         = 8081
  }

  assert {
    condition = alltrue([for tg in aws_lb_target_group.this :
      tg.stickiness[0].enabled && tg.stickiness[0].type == "lb_cookie" && tg.stickiness[0].cookie_duration == 3600
    ])
    error_message = "stickiness_duration must switch lb_cookie stickiness on with that duration."
  }

  assert {
    condition     = alltrue([for tg in aws_lb_target_group.this : tg.slow_start == 60 && tg.port == 8081])
    error_message = "slow_start and target_port must reach the target groups."
  }
}

# Issue 16, finding 4: a replacement must be able to exist beside the group it replaces, so the
# groups take a name_prefix (AWS: at most 6 characters) rather than a fixed name; the env's name
# is in the Name tag. (create_before_destroy and opsctl moving the listener: tests/opsctl/
# test_target_group_replace.py, on moto.)
run "finding_4_target_groups_take_a_name_prefix" {
  command = plan

  variables {
    name = "ingest-a-very-long-environment-x"
  }

  assert {
    condition     = alltrue([for c, tg in aws_lb_target_group.this : tg.name_prefix == "${c}-" && length(tg.name_prefix) <= 6])
    error_message = "Each target group must take a name_prefix of at most 6 characters (its colour)."
  }

  assert {
    condition     = alltrue([for c, tg in aws_lb_target_group.this : tg.tags["Name"] == "ingest-a-very-long-environment-x-${c}"])
    error_message = "The env's name must stay in the target groups' Name tag."
  }
}

run "routing_rules" {
  command = plan

  variables {
    routing_rules = [
      { priority = 10, path_patterns = ["/admin/*"], target = "blue" },
      { priority = 20, host_headers = ["api.example.com"], target = "weighted" },
    ]
  }

  assert {
    condition     = keys(aws_lb_listener_rule.fixed) == ["10"] && keys(aws_lb_listener_rule.weighted) == ["20"]
    error_message = "Pinned and weighted rules must be split by target."
  }

  assert {
    condition     = flatten([for c in aws_lb_listener_rule.fixed["10"].condition : [for p in c.path_pattern : tolist(p.values)]]) == ["/admin/*"]
    error_message = "The path pattern must reach the rule."
  }

  assert {
    condition     = length(aws_lb_listener_rule.weighted["20"].action[0].forward[0].target_group) == 2
    error_message = "A weighted rule must forward over both colours."
  }
}

run "requested_certificate_with_zone" {
  command = plan

  variables {
    certificate_arn           = null
    domain_name               = "ingest.example.com"
    subject_alternative_names = ["www.ingest.example.com"]
    route53_zone_id           = "Z0123456789ABCDEFGHIJ"
  }

  assert {
    condition     = aws_acm_certificate.this[0].validation_method == "DNS" && aws_acm_certificate.this[0].domain_name == "ingest.example.com"
    error_message = "A DNS-validated certificate must be requested for domain_name."
  }

  assert {
    condition     = toset(keys(aws_route53_record.certificate_validation)) == toset(["ingest.example.com", "www.ingest.example.com"])
    error_message = "One validation record per certificate name must be written to the zone."
  }

  assert {
    condition     = length(aws_acm_certificate_validation.this) == 1
    error_message = "The module must wait for the certificate to be issued."
  }

  # Finding 20 (issue 16): the validated name must also resolve to the ALB.
  assert {
    condition = (
      length(aws_route53_record.alias) == 1 &&
      aws_route53_record.alias[0].name == "ingest.example.com" &&
      aws_route53_record.alias[0].type == "A" &&
      aws_route53_record.alias[0].zone_id == "Z0123456789ABCDEFGHIJ"
    )
    error_message = "Finding 20: with a zone, domain_name must get an alias A record pointing at the ALB."
  }
}

run "requested_certificate_without_zone" {
  command = plan

  variables {
    certificate_arn = null
    domain_name     = "ingest.example.com"
  }

  assert {
    condition     = length(aws_route53_record.certificate_validation) == 0 && length(aws_acm_certificate_validation.this) == 1
    error_message = "Without a zone no records are written, but the module still waits for issuance."
  }

  assert {
    condition     = length(aws_route53_record.alias) == 0
    error_message = "Without a zone there is nowhere to write the alias record."
  }
}

run "rejects_both_certificate_inputs" {
  command = plan

  variables {
    domain_name = "ingest.example.com"
  }

  expect_failures = [var.certificate_arn]
}

run "rejects_neither_certificate_input" {
  command = plan

  variables {
    certificate_arn = null
  }

  expect_failures = [var.certificate_arn]
}

run "rejects_zone_without_domain" {
  command = plan

  variables {
    route53_zone_id = "Z0123456789ABCDEFGHIJ"
  }

  expect_failures = [var.route53_zone_id]
}

run "rejects_weak_ssl_policy" {
  command = plan

  variables {
    ssl_policy = "ELBSecurityPolicy-2016-08"
  }

  expect_failures = [var.ssl_policy]
}

run "rejects_deregistration_delay_out_of_range" {
  command = plan

  variables {
    deregistration_delay = 3601
  }

  expect_failures = [var.deregistration_delay]
}

run "rejects_single_subnet" {
  command = plan

  variables {
    subnet_ids = ["subnet-0123456789abcdef0"]
  }

  expect_failures = [var.subnet_ids]
}

run "rejects_stickiness_out_of_range" {
  command = plan

  variables {
    stickiness_duration = 604801
  }

  expect_failures = [var.stickiness_duration]
}

run "rejects_idle_timeout_at_keepalive" {
  command = plan

  variables {
    idle_timeout = 65
  }

  expect_failures = [var.idle_timeout]
}

run "rejects_bad_routing_rule" {
  command = plan

  variables {
    routing_rules = [{ priority = 10, target = "red" }]
  }

  expect_failures = [var.routing_rules]
}

run "rejects_bad_name" {
  command = plan

  variables {
    name = "Ingest_Prod"
  }

  expect_failures = [var.name]
}
