variable "environment" {
  description = "Name of the environment; prefixes every resource name."
  type        = string
  default     = "prod"
}

variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "us-east-1"
}

variable "availability_zones" {
  description = "Zones of the VPC, the cluster, the database and Redis."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b", "us-east-1c"]
}

variable "vpc_cidr" {
  description = "IPv4 range of the VPC."
  type        = string
  default     = "10.10.0.0/16"
}

variable "root_domain" {
  description = "Root domain of this environment (SMARTER_ROOT_DOMAIN); chatbots answer under api.<root_domain>."
  type        = string
}

variable "platform_host" {
  description = "Host of the console and API (SMARTER_PLATFORM_HOST), inside root_domain."
  type        = string
}

variable "create_zone" {
  description = "Create the Route53 zone of root_domain; false uses zone_id."
  type        = bool
  default     = true
}

variable "zone_id" {
  description = "Existing Route53 zone of root_domain when create_zone is false."
  type        = string
  default     = ""
}

variable "ingress_hostname" {
  description = "DNS name of the ingress controller's load balancer; empty on the first apply."
  type        = string
  default     = ""
}

variable "cluster_public_access_cidrs" {
  description = "Networks allowed to reach the Kubernetes API (operators, CI runners)."
  type        = list(string)
}

variable "cluster_admin_arns" {
  description = "IAM principals given cluster administration besides the deploy workflow's role."
  type        = list(string)
  default     = []
}

variable "github_repository" {
  description = "owner/name of the GitHub repository that builds and deploys the platform."
  type        = string
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC provider here (only one environment per account does)."
  type        = bool
  default     = false
}

variable "files_bucket_name" {
  description = "Globally unique name of the platform's S3 bucket (SMARTER_S3_BUCKET)."
  type        = string
}

variable "knowledge_index_enabled" {
  description = "Create the PostgreSQL (pgvector) knowledge index for SMARTER_KNOWLEDGE_INDEX_URL."
  type        = bool
  default     = false
}

variable "knowledge_index_instance_class" {
  description = "Instance class of the knowledge index, when it is enabled."
  type        = string
  default     = "db.r6g.large"
}
