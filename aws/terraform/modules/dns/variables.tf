variable "domain" {
  description = "Root domain of the environment (SMARTER_ROOT_DOMAIN), e.g. example.com or staging.example.com."
  type        = string
}

variable "create_zone" {
  description = "Create the hosted zone of the domain here; false uses the existing zone named by zone_id."
  type        = bool
  default     = true
}

variable "zone_id" {
  description = "Existing hosted zone of the domain, when create_zone is false."
  type        = string
  default     = ""
}

variable "platform_host" {
  description = "Host name of the console and the REST API (SMARTER_PLATFORM_HOST), inside the domain."
  type        = string
}

variable "ingress_hostname" {
  description = "DNS name of the ingress controller's load balancer. Empty until it exists: no records yet."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
