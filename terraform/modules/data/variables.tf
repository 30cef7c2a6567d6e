variable "name" {
  description = "Name prefix: the table is \"<name>-sessions\" unless table_name is given, the key alias \"alias/<name>\"."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{1,200}$", var.name))
    error_message = "name must be 1-200 letters, digits, underscores, dots or hyphens."
  }
}

variable "table_name" {
  description = "Name of the DynamoDB sessions table; null uses \"<name>-sessions\"."
  type        = string
  default     = null
}

variable "table_deletion_protection" {
  description = "Refuse to delete the sessions table until this is set to false and applied."
  type        = bool
  default     = true
}

variable "key_deletion_window_days" {
  description = "Days a scheduled key deletion waits (7-30): the window to cancel it."
  type        = number
  default     = 30

  validation {
    condition     = var.key_deletion_window_days >= 7 && var.key_deletion_window_days <= 30
    error_message = "key_deletion_window_days must be from 7 to 30."
  }
}

variable "key_rotation_period_days" {
  description = "Days between automatic rotations of the key material (90-2560)."
  type        = number
  default     = 365

  validation {
    condition     = var.key_rotation_period_days >= 90 && var.key_rotation_period_days <= 2560
    error_message = "key_rotation_period_days must be from 90 to 2560."
  }
}

variable "key_administrator_arns" {
  description = "IAM principals allowed to administer the key (not to use it). Empty: the account, through IAM policies."
  type        = list(string)
  default     = []
}

variable "key_user_arns" {
  description = "IAM principals allowed to use the key directly (encrypt, decrypt, generate data keys): the gateway's task role."
  type        = list(string)
  default     = []
}

variable "log_group_names" {
  description = "CloudWatch log groups allowed to encrypt with the key (the key policy names each one)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
