output "zone_id" {
  description = "Hosted zone of the domain."
  value       = local.zone_id
}

output "zone_arn" {
  description = "ARN of the hosted zone (for IAM policies)."
  value       = "arn:aws:route53:::hostedzone/${local.zone_id}"
}

output "name_servers" {
  description = "Name servers to delegate the domain to (at the registrar or the parent zone)."
  value       = var.create_zone ? aws_route53_zone.this[0].name_servers : []
}

output "certificate_arn" {
  description = "ACM wildcard certificate, validated (for a load balancer terminating TLS)."
  value       = aws_acm_certificate_validation.this.certificate_arn
}
