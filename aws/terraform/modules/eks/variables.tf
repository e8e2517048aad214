variable "name" {
  description = "Name of the cluster, and prefix of every other resource name."
  type        = string
}

variable "kubernetes_version" {
  description = "Kubernetes version of the control plane and the nodes."
  type        = string
  default     = "1.31"
}

variable "vpc_id" {
  description = "VPC of the cluster."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the nodes and of the control plane's network interfaces."
  type        = list(string)
}

variable "public_access_cidrs" {
  description = "Networks that may reach the Kubernetes API from the internet (operators, CI). Empty: private endpoint only."
  type        = list(string)
  default     = []
}

variable "node_instance_types" {
  description = "EC2 instance types of the managed node group."
  type        = list(string)
  default     = ["m6i.large"]
}

variable "node_min_size" {
  description = "Fewest nodes."
  type        = number
  default     = 2
}

variable "node_desired_size" {
  description = "Nodes at creation (the cluster autoscaler moves it afterwards)."
  type        = number
  default     = 3
}

variable "node_max_size" {
  description = "Most nodes."
  type        = number
  default     = 6
}

variable "node_disk_size" {
  description = "Root volume of each node, in GiB."
  type        = number
  default     = 50
}

variable "admin_principals" {
  description = "IAM roles or users given cluster administration, by a name of your choice (keys must be known at plan time; values may come from other resources)."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Days to keep the control plane logs."
  type        = number
  default     = 365
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
