variable "name" {
  description = "Prefix of the scaling policies and alarms."
  type        = string
}

variable "cluster_name" {
  description = "Name of the ECS cluster of the service."
  type        = string
}

variable "service_name" {
  description = "Name of the ECS service to scale."
  type        = string
}

variable "min_capacity" {
  description = "Fewest tasks. Used exactly as given: never raised to the service's desired count."
  type        = number
  default     = 2

  validation {
    condition     = var.min_capacity >= 0 && floor(var.min_capacity) == var.min_capacity
    error_message = "min_capacity must be a whole number, 0 or more."
  }
}

variable "max_capacity" {
  description = "Most tasks. Used exactly as given."
  type        = number
  default     = 10

  validation {
    condition     = var.max_capacity >= 1 && floor(var.max_capacity) == var.max_capacity && var.max_capacity >= var.min_capacity
    error_message = "max_capacity (${var.max_capacity}) must be a whole number, at least 1 and at least min_capacity (${var.min_capacity})."
  }
}

variable "cpu_target" {
  description = "Average service CPU utilisation (%) target tracking keeps the service at."
  type        = number
  default     = 60

  validation {
    condition     = var.cpu_target > 0 && var.cpu_target < 100
    error_message = "cpu_target must be between 0 and 100 (exclusive)."
  }
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the ALB (metric dimension LoadBalancer)."
  type        = string
}

variable "target_group_arn_suffix" {
  description = "ARN suffix of the target group (metric dimension TargetGroup)."
  type        = string
}

variable "requests_per_target_high" {
  description = "Requests per task per minute (ALB RequestCountPerTarget, sum over 1 minute) above which step scaling adds tasks: +1 above it, +2 above 1.5x, +4 above 3x."
  type        = number
  default     = 3000

  validation {
    condition     = var.requests_per_target_high > 0
    error_message = "requests_per_target_high must be positive."
  }
}

variable "requests_per_target_low" {
  description = "Requests per task per minute at or below which (with CPU at or below scale_in_cpu_below as well) step scaling removes one task, after scale_in_evaluation_periods minutes. At most half of requests_per_target_high, so that a scale-in cannot itself cause a scale-out."
  type        = number
  default     = 600

  validation {
    condition     = var.requests_per_target_low >= 0 && var.requests_per_target_low * 2 <= var.requests_per_target_high
    error_message = "requests_per_target_low (${var.requests_per_target_low}) must be 0 or more and at most half of requests_per_target_high (${var.requests_per_target_high}): removing one of two tasks doubles the requests per task, which must stay below the scale-out threshold."
  }
}

variable "scale_in_cpu_below" {
  description = "Average service CPU (%) at or below which (with requests per task at or below requests_per_target_low as well) a task is removed. Null: half of cpu_target. Target tracking itself never scales in."
  type        = number
  default     = null

  validation {
    condition     = var.scale_in_cpu_below == null || try(var.scale_in_cpu_below > 0 && var.scale_in_cpu_below * 2 <= var.cpu_target, false)
    error_message = "scale_in_cpu_below must be above 0 and at most half of cpu_target (${var.cpu_target}): removing one of two tasks doubles their CPU, which must stay at or below the target."
  }
}

variable "scale_out_evaluation_periods" {
  description = "Consecutive minutes above requests_per_target_high before scaling out."
  type        = number
  default     = 2
}

variable "scale_in_evaluation_periods" {
  description = "Consecutive minutes with both requests per task and CPU low before scaling in."
  type        = number
  default     = 10
}

variable "scale_out_cooldown" {
  description = "Seconds after a scale-out before another scale-out by the same policy."
  type        = number
  default     = 60

  validation {
    condition     = var.scale_out_cooldown >= 0
    error_message = "scale_out_cooldown must be 0 or more."
  }
}

variable "scale_in_cooldown" {
  description = "Seconds after a scale-in before another scale-in by the same policy (long: tasks hold SSE streams)."
  type        = number
  default     = 300

  validation {
    condition     = var.scale_in_cooldown >= 0
    error_message = "scale_in_cooldown must be 0 or more."
  }
}

variable "tags" {
  description = "Tags added to the alarms and the scalable target."
  type        = map(string)
  default     = {}
}
