output "state_bucket" {
  description = "bucket of each environment's backend.hcl."
  value       = aws_s3_bucket.state.id
}

output "lock_table" {
  description = "dynamodb_table of each environment's backend.hcl."
  value       = aws_dynamodb_table.locks.name
}

output "region" {
  description = "region of each environment's backend.hcl."
  value       = var.region
}
