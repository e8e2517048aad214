# The environment's DNS: its hosted zone, the platform host and the chatbots' wildcard pointing at
# the ingress load balancer, and an ACM wildcard certificate validated through DNS.

resource "aws_route53_zone" "this" {
  #checkov:skip=CKV2_AWS_38:DNSSEC signing needs a key in us-east-1 and a DS record at the registrar; an operator step, see docs/deploy.md.
  #checkov:skip=CKV2_AWS_39:Query logging needs a log group in us-east-1 and is enabled by the operator when wanted.
  count   = var.create_zone ? 1 : 0
  name    = var.domain
  comment = "Smarter ${var.domain}"
  tags    = var.tags
}

locals {
  zone_id = var.create_zone ? aws_route53_zone.this[0].zone_id : var.zone_id
  # The platform host, and one label under api.<domain> for chatbots; deeper chatbot hosts get
  # their own records from the platform (SMARTER_AWS_ROUTE53_ENABLED).
  ingress_names = var.ingress_hostname == "" ? [] : [var.platform_host, "*.api.${var.domain}"]
}

resource "aws_route53_record" "ingress" {
  for_each = toset(local.ingress_names)
  zone_id  = local.zone_id
  name     = each.value
  type     = "CNAME"
  ttl      = 300
  records  = [var.ingress_hostname]
}

resource "aws_acm_certificate" "this" {
  domain_name               = "*.${var.domain}"
  subject_alternative_names = [var.domain, "*.api.${var.domain}"]
  validation_method         = "DNS"
  tags                      = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# Keyed by domain name, known before the certificate exists. The wildcard and the apex share
# one validation record, hence allow_overwrite.
resource "aws_route53_record" "validation" {
  for_each = {
    for option in aws_acm_certificate.this.domain_validation_options : option.domain_name => {
      name   = option.resource_record_name
      type   = option.resource_record_type
      record = option.resource_record_value
    }
  }
  zone_id         = local.zone_id
  name            = each.value.name
  type            = each.value.type
  ttl             = 300
  records         = [each.value.record]
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  certificate_arn         = aws_acm_certificate.this.arn
  validation_record_fqdns = [for record in aws_route53_record.validation : record.fqdn]
}
