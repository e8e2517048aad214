variable "name" {
  description = "Identifier of the replication group, and prefix of every other resource name."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the Redis nodes."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the Redis nodes."
  type        = list(string)
}

variable "allowed_security_group_ids" {
  description = "Security groups allowed to connect on 6379 (the EKS nodes)."
  type        = list(string)
}

variable "engine_version" {
  description = "Redis engine version (7.x)."
  type        = string
  default     = "7.1"
}

variable "node_type" {
  description = "Instance type of the Redis nodes."
  type        = string
  default     = "cache.t4g.medium"
}

variable "replicas" {
  description = "Read replicas besides the primary; one or more gives automatic failover."
  type        = number
  default     = 1
}

variable "snapshot_retention_days" {
  description = "Days of daily snapshots."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
