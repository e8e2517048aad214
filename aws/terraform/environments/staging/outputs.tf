output "cluster_name" {
  description = "EKS cluster: aws eks update-kubeconfig --name <this>."
  value       = module.eks.cluster_name
}

output "ecr_repository_url" {
  description = "Where the build workflow pushes the image (chart value image.repository)."
  value       = module.ecr.repository_url
}

output "database_address" {
  description = "Host of MySQL, for SMARTER_DATABASE_URL."
  value       = module.rds.address
}

output "database_name" {
  description = "Database of the platform, for SMARTER_DATABASE_URL."
  value       = module.rds.database_name
}

output "database_username" {
  description = "Database user, for SMARTER_DATABASE_URL."
  value       = module.rds.username
}

output "database_secret_arn" {
  description = "Secrets Manager secret holding the database password."
  value       = module.rds.master_user_secret_arn
}

output "knowledge_index_address" {
  description = "Host of the PostgreSQL knowledge index (null unless knowledge_index_enabled)."
  value       = one(module.knowledge_index[*].address)
}

output "knowledge_index_database_name" {
  description = "Database of the knowledge index (null unless knowledge_index_enabled)."
  value       = one(module.knowledge_index[*].database_name)
}

output "knowledge_index_secret_arn" {
  description = "Secrets Manager secret holding the knowledge index's master password (null unless enabled)."
  value       = one(module.knowledge_index[*].master_user_secret_arn)
}

output "knowledge_index_url" {
  description = "Chart secret knowledgeIndexUrl (SMARTER_KNOWLEDGE_INDEX_URL) without its password (null unless enabled)."
  value       = one(module.knowledge_index[*].url_without_password)
}

output "knowledge_index_security_group_id" {
  description = "Security group of the knowledge index, to restore a backup into (null unless enabled)."
  value       = one(module.knowledge_index[*].security_group_id)
}

output "redis_url" {
  description = "SMARTER_REDIS_URL (TLS and AUTH token): terraform output -raw redis_url."
  value       = module.elasticache.redis_url
  sensitive   = true
}

output "files_bucket" {
  description = "SMARTER_S3_BUCKET."
  value       = module.s3.bucket_name
}

output "zone_id" {
  description = "Route53 zone of root_domain (cert-manager's DNS-01 solver)."
  value       = module.dns.zone_id
}

output "database_security_group_id" {
  description = "Security group of MySQL (to restore a backup into)."
  value       = module.rds.security_group_id
}

output "name_servers" {
  description = "Delegate root_domain to these name servers."
  value       = module.dns.name_servers
}

output "certificate_arn" {
  description = "ACM wildcard certificate of root_domain."
  value       = module.dns.certificate_arn
}

output "app_role_arn" {
  description = "Chart value serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn."
  value       = module.iam.app_role_arn
}

output "cert_manager_role_arn" {
  description = "Role for cert-manager's service account (DNS-01 in Route53)."
  value       = module.iam.cert_manager_role_arn
}

output "github_actions_role_arn" {
  description = "GitHub variable AWS_ROLE_ARN of this environment."
  value       = module.iam.github_actions_role_arn
}
