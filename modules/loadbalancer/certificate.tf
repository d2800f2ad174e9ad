# The HTTPS listener's certificate: the given ARN, or one requested here with DNS validation;
# with a zone, also the alias record that points domain_name at the ALB.

locals {
  create_certificate = var.domain_name != null
  certificate_names  = local.create_certificate ? toset(concat([var.domain_name], var.subject_alternative_names)) : toset([])

  # Validation records keyed by the (known) domain names, so for_each works at plan time.
  validation_options = local.create_certificate ? {
    for o in aws_acm_certificate.this[0].domain_validation_options : o.domain_name => o
  } : {}

  certificate_arn = local.create_certificate ? aws_acm_certificate_validation.this[0].certificate_arn : var.certificate_arn
}

resource "aws_acm_certificate" "this" {
  count = local.create_certificate ? 1 : 0

  domain_name               = var.domain_name
  subject_alternative_names = var.subject_alternative_names
  validation_method         = "DNS"
  key_algorithm             = "RSA_2048"

  options {
    certificate_transparency_logging_preference = "ENABLED"
  }

  tags = merge({ Name = var.domain_name }, var.tags)

  lifecycle {
    # A listener always holds a certificate: the new one must exist before the old one goes.
    create_before_destroy = true
  }
}

resource "aws_route53_record" "certificate_validation" {
  for_each = var.route53_zone_id != null ? local.certificate_names : toset([])

  zone_id = var.route53_zone_id
  name    = local.validation_options[each.key].resource_record_name
  type    = local.validation_options[each.key].resource_record_type
  records = [local.validation_options[each.key].resource_record_value]
  ttl     = 300

  # example.com and *.example.com share one validation record.
  allow_overwrite = true
}

# Waits until ACM has issued the certificate (an ALB listener refuses a pending one). Without a
# zone, someone must add the records from the certificate_validation_records output meanwhile.
resource "aws_acm_certificate_validation" "this" {
  count = local.create_certificate ? 1 : 0

  certificate_arn         = aws_acm_certificate.this[0].arn
  validation_record_fqdns = var.route53_zone_id != null ? [for r in aws_route53_record.certificate_validation : r.fqdn] : null
}

# Finding 20 (issue 16): with a zone, domain_name also points at the ALB (an alias record: no
# charge for the queries, follows the ALB's changing addresses, health-evaluated).
resource "aws_route53_record" "alias" {
  count = var.route53_zone_id != null && var.domain_name != null ? 1 : 0

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = aws_lb.this.dns_name
    zone_id                = aws_lb.this.zone_id
    evaluate_target_health = true
  }
}
