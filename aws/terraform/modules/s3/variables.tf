variable "bucket_name" {
  description = "Name of the bucket of the platform's files (SMARTER_S3_BUCKET); globally unique."
  type        = string
}

variable "noncurrent_version_days" {
  description = "Days an overwritten or deleted object's old version is kept."
  type        = number
  default     = 90
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
