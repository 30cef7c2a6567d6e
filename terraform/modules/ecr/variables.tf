variable "name" {
  description = "Name of the ECR repository."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.name)) && length(var.name) >= 2 && length(var.name) <= 256
    error_message = "name must be a valid ECR repository name (lower-case letters, digits, and . _ - / separators, 2-256 characters)."
  }
}

variable "kms_key_arn" {
  description = "KMS key ARN to encrypt the images with; null uses AES-256 (ECR's default)."
  type        = string
  default     = null
}

variable "keep_tagged_images" {
  description = "How many most recent images the lifecycle policy keeps (older ones are expired). Keep enough to roll back."
  type        = number
  default     = 30

  validation {
    condition     = var.keep_tagged_images >= 1
    error_message = "keep_tagged_images must be at least 1."
  }
}

variable "untagged_expiry_days" {
  description = "Days after which untagged images (left over from multi-arch or failed pushes) are expired."
  type        = number
  default     = 7

  validation {
    condition     = var.untagged_expiry_days >= 1
    error_message = "untagged_expiry_days must be at least 1."
  }
}

variable "force_delete" {
  description = "Let terraform destroy delete the repository even when it still holds images."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to the repository."
  type        = map(string)
  default     = {}
}
