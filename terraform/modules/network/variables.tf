variable "name" {
  description = "Name prefix for every resource of the network (VPC, subnets, gateways)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9-]{1,32}$", var.name))
    error_message = "name must be 1-32 letters, digits or hyphens."
  }
}

variable "cidr_block" {
  description = "IPv4 CIDR of the VPC, /16 to /20. It is cut into 16 equal subnets (a /16 gives /20s): public ones from the lower half, private ones from the upper half."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && try(tonumber(split("/", var.cidr_block)[1]) >= 16 && tonumber(split("/", var.cidr_block)[1]) <= 20, false)
    error_message = "cidr_block must be a valid IPv4 CIDR from /16 to /20."
  }
}

variable "az_count" {
  description = "How many availability zones to spread the subnets over (the first az_count of the region's available zones, unless availability_zones is given)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 6 && floor(var.az_count) == var.az_count
    error_message = "az_count must be a whole number from 2 to 6 (an ALB needs at least two zones)."
  }
}

variable "availability_zones" {
  description = "Explicit availability zone names. When null, the first az_count available zones of the region are used."
  type        = list(string)
  default     = null

  validation {
    condition     = var.availability_zones == null || try(length(var.availability_zones) >= 2 && length(var.availability_zones) <= 6, false)
    error_message = "availability_zones, when given, must name from two to six zones."
  }
}

variable "nat_gateway_mode" {
  description = "NAT for the private subnets: \"single\" (one NAT gateway, cheapest), \"one_per_az\" (survives the loss of a zone) or \"none\" (tasks reach AWS only through the VPC endpoints)."
  type        = string
  default     = "single"

  validation {
    condition     = contains(["single", "one_per_az", "none"], var.nat_gateway_mode)
    error_message = "nat_gateway_mode must be one of: single, one_per_az, none."
  }
}

variable "enable_flow_logs" {
  description = "Send VPC flow logs (all traffic) to a CloudWatch log group."
  type        = bool
  default     = true
}

variable "flow_logs_retention_days" {
  description = "Retention of the flow-log group, in days."
  type        = number
  default     = 90

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_logs_retention_days)
    error_message = "flow_logs_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "flow_logs_group_name" {
  description = "Name of the flow-log group; null uses \"/vpc/<name>/flow-logs\". Give it when a KMS key policy must name the group before it exists."
  type        = string
  default     = null
}

variable "flow_logs_kms_key_arn" {
  description = "KMS key ARN to encrypt the flow-log group with (its policy must allow the CloudWatch Logs service). Null leaves the default encryption."
  type        = string
  default     = null
}

variable "enable_vpc_endpoints" {
  description = "Create VPC endpoints so tasks in the private subnets reach AWS without NAT: gateway endpoints for DynamoDB and S3 (ECR image layers are served from S3) and interface endpoints for ECR (api, dkr), CloudWatch Logs, Secrets Manager and KMS."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
