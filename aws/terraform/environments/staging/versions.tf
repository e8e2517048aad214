terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 7.0"
    }
    tls = {
      source  = "hashicorp/tls"
      version = ">= 4.0, < 5.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.5, < 4.0"
    }
  }

  # Remote state in the bucket and lock table made by aws/terraform/bootstrap. The bucket,
  # region and table are account-specific: `terraform init -backend-config=backend.hcl`
  # (copy backend.hcl.example). The key keeps each environment's state apart.
  backend "s3" {
    key     = "smarter/staging/terraform.tfstate"
    encrypt = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "smarter"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
