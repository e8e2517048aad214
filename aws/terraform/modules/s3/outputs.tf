output "bucket_name" {
  description = "Name of the bucket (SMARTER_S3_BUCKET)."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the bucket."
  value       = aws_s3_bucket.this.arn
}

output "kms_key_arn" {
  description = "ARN of the key encrypting the bucket's objects."
  value       = aws_kms_key.this.arn
}
