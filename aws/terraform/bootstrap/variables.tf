variable "region" {
  description = "AWS region of the state bucket and the lock table."
  type        = string
  default     = "us-east-1"
}

variable "state_bucket_name" {
  description = "Globally unique name of the Terraform state bucket; empty: smarter-terraform-state-<account id>."
  type        = string
  default     = ""
}

variable "lock_table_name" {
  description = "Name of the DynamoDB table holding the state locks."
  type        = string
  default     = "smarter-terraform-locks"
}
