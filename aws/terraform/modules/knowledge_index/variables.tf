variable "name" {
  description = "Prefix of every resource name (the instance is <name>-knowledge)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the database."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the database (two zones at least)."
  type        = list(string)
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on 5432 (the EKS nodes)."
  type        = list(string)
}

variable "engine_version" {
  description = "PostgreSQL version: 17 (every RDS release of it ships pgvector 0.8 or newer), or 16.5 or later."
  type        = string
  default     = "17"

  validation {
    condition     = can(regex("^(1[7-9]|[2-9][0-9])(\\.[0-9]+)?$|^16\\.([5-9]|[1-9][0-9])$", var.engine_version))
    error_message = "The knowledge index needs pgvector 0.8 or newer: PostgreSQL 17 (or 17.x), or 16.5 or later."
  }
}

variable "instance_class" {
  description = "Instance class of the database; vectors search fastest when their HNSW index fits in memory."
  type        = string
  default     = "db.t4g.medium"
}

variable "allocated_storage" {
  description = "Initial storage, in GiB."
  type        = number
  default     = 20
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling, in GiB."
  type        = number
  default     = 200
}

variable "database_name" {
  description = "Database created on the instance."
  type        = string
  default     = "knowledge"
}

variable "username" {
  description = "Master user name; its password is generated and kept in Secrets Manager by RDS."
  type        = string
  default     = "smarter"
}

variable "application_username" {
  description = "The platform's own user, created once by hand (docs/deploy.md); named in the URL output."
  type        = string
  default     = "smarter_kb"
}

variable "multi_az" {
  description = "A standby in another zone with automatic failover."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Days of automated backups and point-in-time recovery."
  type        = number
  default     = 7
}

variable "deletion_protection" {
  description = "Refuse to delete the instance (turn off only to destroy the environment)."
  type        = bool
  default     = true
}

variable "log_min_duration_ms" {
  description = "Statements slower than this many milliseconds are logged."
  type        = number
  default     = 1000
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
