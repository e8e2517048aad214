terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.80, < 7.0"
    }
  }

  # This configuration creates the remote state of the others; its own state stays local
  # (keep terraform.tfstate of this folder safe, or import the two resources again).
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project   = "smarter"
      ManagedBy = "terraform"
    }
  }
}
