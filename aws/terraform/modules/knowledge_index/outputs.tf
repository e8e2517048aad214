output "address" {
  description = "Host name of the knowledge index."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the knowledge index."
  value       = aws_db_instance.this.port
}

output "database_name" {
  description = "Database of the knowledge index (where CREATE EXTENSION vector is run once)."
  value       = aws_db_instance.this.db_name
}

output "username" {
  description = "Master user name (a member of rds_superuser, which may create the vector extension)."
  value       = aws_db_instance.this.username
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret holding the master password (JSON with username and password)."
  value       = aws_db_instance.this.master_user_secret[0].secret_arn
}

output "url_without_password" {
  description = "SMARTER_KNOWLEDGE_INDEX_URL of the application's user, its password left out (see docs/deploy.md)."
  value       = "postgresql://${var.application_username}@${aws_db_instance.this.address}:${aws_db_instance.this.port}/${aws_db_instance.this.db_name}?sslmode=require"
}

output "security_group_id" {
  description = "Security group of the knowledge index."
  value       = aws_security_group.this.id
}
