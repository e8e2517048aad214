variable "name" {
  description = "Identifier of the database instance, and prefix of every other resource name."
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
  description = "Security groups allowed to connect on 3306 (the EKS nodes)."
  type        = list(string)
}

variable "engine_version" {
  description = "MySQL 8 version."
  type        = string
  default     = "8.0"
}

variable "instance_class" {
  description = "Instance class of the database."
  type        = string
  default     = "db.t4g.medium"
}

variable "allocated_storage" {
  description = "Initial storage, in GiB."
  type        = number
  default     = 50
}

variable "max_allocated_storage" {
  description = "Storage autoscaling ceiling, in GiB."
  type        = number
  default     = 500
}

variable "database_name" {
  description = "Database created on the instance."
  type        = string
  default     = "smarter"
}

variable "username" {
  description = "Master user name; its password is generated and kept in Secrets Manager by RDS."
  type        = string
  default     = "smarter"
}

variable "multi_az" {
  description = "A standby in another zone with automatic failover."
  type        = bool
  default     = true
}

variable "backup_retention_days" {
  description = "Days of automated backups and point-in-time recovery."
  type        = number
  default     = 14
}

variable "deletion_protection" {
  description = "Refuse to delete the instance (turn off only to destroy the environment)."
  type        = bool
  default     = true
}

variable "require_secure_transport" {
  description = "Refuse connections without TLS. Needs a database URL that asks for TLS (see docs/deploy.md)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
