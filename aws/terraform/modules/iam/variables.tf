variable "name" {
  description = "Prefix of every role name, e.g. smarter-prod."
  type        = string
}

variable "oidc_provider_arn" {
  description = "ARN of the EKS cluster's IAM OIDC provider."
  type        = string
}

variable "oidc_issuer" {
  description = "Issuer of the cluster's service account tokens, without https://."
  type        = string
}

variable "namespace" {
  description = "Kubernetes namespace of the platform."
  type        = string
  default     = "smarter"
}

variable "service_account" {
  description = "Kubernetes service account of the platform (the chart's serviceAccount name)."
  type        = string
  default     = "smarter"
}

variable "zone_arn" {
  description = "Hosted zone where the platform and cert-manager manage records."
  type        = string
}

variable "bucket_arn" {
  description = "The platform's S3 bucket."
  type        = string
}

variable "bucket_kms_key_arn" {
  description = "Key encrypting the bucket's objects."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster the deploy workflow describes."
  type        = string
}

variable "ecr_repository_arn" {
  description = "Image repository the build workflow pushes to."
  type        = string
}

variable "github_repository" {
  description = "owner/name of the GitHub repository whose workflows build and deploy."
  type        = string
}

variable "github_environment" {
  description = "GitHub environment of the deploy workflow for this environment (staging, prod)."
  type        = string
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC provider (once per account: true in one environment only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
