output "primary_endpoint" {
  description = "Host name of the primary node."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "port" {
  description = "Port of Redis."
  value       = aws_elasticache_replication_group.this.port
}

output "auth_token" {
  description = "AUTH token of Redis."
  value       = random_password.auth_token.result
  sensitive   = true
}

output "redis_url" {
  description = "SMARTER_REDIS_URL for the platform: TLS (rediss://, certificate verified) with the AUTH token, database 0."
  value       = "rediss://:${urlencode(random_password.auth_token.result)}@${aws_elasticache_replication_group.this.primary_endpoint_address}:${aws_elasticache_replication_group.this.port}/0?ssl_cert_reqs=required"
  sensitive   = true
}

output "security_group_id" {
  description = "Security group of Redis."
  value       = aws_security_group.this.id
}
