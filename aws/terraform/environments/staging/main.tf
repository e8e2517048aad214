# Staging: the same building blocks as production, smaller and cheaper (one NAT gateway, a
# single-zone database, one Redis node, fewer nodes).

locals {
  name = "smarter-${var.environment}"
}

module "vpc" {
  source             = "../../modules/vpc"
  name               = local.name
  cidr_block         = var.vpc_cidr
  availability_zones = var.availability_zones
  single_nat_gateway = true
}

module "eks" {
  source              = "../../modules/eks"
  name                = local.name
  vpc_id              = module.vpc.vpc_id
  subnet_ids          = module.vpc.private_subnet_ids
  public_access_cidrs = var.cluster_public_access_cidrs
  node_instance_types = ["t3.large"]
  node_min_size       = 2
  node_desired_size   = 2
  node_max_size       = 4
  admin_principals = merge(
    { for index, arn in var.cluster_admin_arns : "admin-${index}" => arn },
    { github-actions = module.iam.github_actions_role_arn },
  )
}

module "rds" {
  source                     = "../../modules/rds"
  name                       = local.name
  vpc_id                     = module.vpc.vpc_id
  subnet_ids                 = module.vpc.private_subnet_ids
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  instance_class             = "db.t4g.medium"
  allocated_storage          = 20
  multi_az                   = false
  backup_retention_days      = 7
}

# The knowledge bases' index (PostgreSQL with pgvector), only when knowledge_index_enabled: without
# it the chart keeps each pod's own SQLite index (docs/deploy.md, step 7).
module "knowledge_index" {
  source                     = "../../modules/knowledge_index"
  count                      = var.knowledge_index_enabled ? 1 : 0
  name                       = local.name
  vpc_id                     = module.vpc.vpc_id
  subnet_ids                 = module.vpc.private_subnet_ids
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  instance_class             = var.knowledge_index_instance_class
  allocated_storage          = 20
  multi_az                   = false
  backup_retention_days      = 7
}

module "elasticache" {
  source                     = "../../modules/elasticache"
  name                       = local.name
  vpc_id                     = module.vpc.vpc_id
  subnet_ids                 = module.vpc.private_subnet_ids
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  node_type                  = "cache.t4g.small"
  replicas                   = 0
  snapshot_retention_days    = 1
}

module "ecr" {
  source = "../../modules/ecr"
  name   = "smarter-${var.environment}"
}

module "s3" {
  source      = "../../modules/s3"
  bucket_name = var.files_bucket_name
}

module "dns" {
  source           = "../../modules/dns"
  domain           = var.root_domain
  create_zone      = var.create_zone
  zone_id          = var.zone_id
  platform_host    = var.platform_host
  ingress_hostname = var.ingress_hostname
}

module "iam" {
  source                      = "../../modules/iam"
  name                        = local.name
  oidc_provider_arn           = module.eks.oidc_provider_arn
  oidc_issuer                 = module.eks.oidc_issuer
  zone_arn                    = module.dns.zone_arn
  bucket_arn                  = module.s3.bucket_arn
  bucket_kms_key_arn          = module.s3.kms_key_arn
  cluster_name                = local.name
  ecr_repository_arn          = module.ecr.repository_arn
  github_repository           = var.github_repository
  github_environment          = var.environment
  create_github_oidc_provider = var.create_github_oidc_provider
}
