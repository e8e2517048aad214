variable "name" {
  description = "Name of the image repository."
  type        = string
  default     = "smarter"
}

variable "keep_images" {
  description = "Tagged images kept; older ones are expired."
  type        = number
  default     = 50
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
