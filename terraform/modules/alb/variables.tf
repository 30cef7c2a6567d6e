variable "name" {
  description = "Name of the load balancer and prefix of its security group (at most 32 characters)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$", var.name)) && !startswith(var.name, "internal-")
    error_message = "name must be 1-32 letters, digits or hyphens, not starting or ending with a hyphen, and not starting with \"internal-\"."
  }
}

variable "vpc_id" {
  description = "ID of the VPC the load balancer and its target group live in."
  type        = string
}

variable "vpc_cidr_block" {
  description = "IPv4 CIDR of the VPC: the load balancer may only open connections to the targets' port inside it."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets (at least two, in different zones) for the internet-facing load balancer."
  type        = list(string)

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "public_subnet_ids must name at least two subnets (an ALB needs two zones)."
  }
}

variable "certificate_arn" {
  description = "ARN of the ACM certificate for the HTTPS listener (issued, in the same region, covering the domain)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-zA-Z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)."
  }
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener. Only TLS 1.3 policies are accepted; the default also allows TLS 1.2 clients."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = startswith(var.ssl_policy, "ELBSecurityPolicy-TLS13-")
    error_message = "ssl_policy must be a TLS 1.3 policy (ELBSecurityPolicy-TLS13-...), for example ELBSecurityPolicy-TLS13-1-2-2021-06 or ELBSecurityPolicy-TLS13-1-3-2021-06; leaving it out would give the old ELBSecurityPolicy-2016-08."
  }
}

variable "ingress_cidr_blocks" {
  description = "IPv4 ranges allowed to reach the load balancer on ports 80 and 443."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.ingress_cidr_blocks) > 0 && alltrue([for c in var.ingress_cidr_blocks : can(cidrhost(c, 0))])
    error_message = "ingress_cidr_blocks must be a non-empty list of IPv4 CIDRs."
  }
}

variable "public_paths" {
  description = "Path patterns the HTTPS listener forwards to the gateway; every other path is answered by the load balancer itself with a 404 (JSON). ALB path patterns: compared with the path only (not the query string), case-sensitive, * matches any run of characters and ? one. The default is the MCP endpoint and the OAuth discovery documents; /health, /ready and /status stay out, since the target group's health checks reach the tasks without the listener. 1 to 5 patterns (one rule condition takes 5 values) with at most 5 wildcards in all, each starting with a slash, at most 128 characters of A-Z a-z 0-9 _ - . $ / ~ \" ' @ : + * ?."
  type        = list(string)
  default     = ["/mcp", "/.well-known/*"]
  nullable    = false

  validation {
    condition     = length(var.public_paths) >= 1 && length(var.public_paths) <= 5
    error_message = "public_paths must list 1 to 5 path patterns (${length(var.public_paths)} given): an ALB rule condition takes at most 5 values."
  }

  validation {
    condition     = alltrue([for p in var.public_paths : can(regex("^/[A-Za-z0-9_.$/~\"'@:+*?-]{0,127}$", p))])
    error_message = "Every public_paths pattern must start with a slash and be at most 128 characters of A-Z a-z 0-9 _ - . $ / ~ \" ' @ : + and the wildcards * and ? (ALB path-pattern syntax). Refused: ${join(", ", [for p in var.public_paths : jsonencode(p) if !can(regex("^/[A-Za-z0-9_.$/~\"'@:+*?-]{0,127}$", p))])}."
  }

  validation {
    condition     = length(regexall("[*?]", join("", var.public_paths))) <= 5
    error_message = "public_paths holds ${length(regexall("[*?]", join("", var.public_paths)))} wildcards (* or ?) in all; an ALB rule allows at most 5."
  }
}

variable "idle_timeout" {
  description = "Seconds the ALB keeps an idle connection open. The container's keep-alive idle (MCPGW_KEEPALIVE_IDLE) must be longer, otherwise lighttpd closes a connection the ALB is about to reuse and clients see sporadic 502s; the service module sets it to this value + 5. Long-lived SSE streams need the server to send something at least this often."
  type        = number
  default     = 60

  validation {
    condition     = var.idle_timeout >= 1 && var.idle_timeout <= 4000 && floor(var.idle_timeout) == var.idle_timeout
    error_message = "idle_timeout must be a whole number of seconds from 1 to 4000."
  }
}

variable "target_port" {
  description = "Port the container listens on (MCPGW_PORT); the target group forwards to it."
  type        = number
  default     = 8080

  validation {
    condition     = var.target_port >= 1024 && var.target_port <= 65535 && floor(var.target_port) == var.target_port
    error_message = "target_port must be a whole number from 1024 to 65535 (the container runs as a non-root user)."
  }
}

variable "deregistration_delay" {
  description = "Seconds the ALB lets in-flight requests finish on a target being removed. On a deployment or scale-in ECS sends SIGTERM only after this, so it must outlast the longest request (MCPGW_REQUEST_TIMEOUT, 60 s by default; checked in the service module and the root)."
  type        = number
  default     = 65

  validation {
    condition     = var.deregistration_delay >= 0 && var.deregistration_delay <= 3600 && floor(var.deregistration_delay) == var.deregistration_delay
    error_message = "deregistration_delay must be a whole number of seconds from 0 to 3600."
  }
}

variable "health_check_path" {
  description = "Path the ALB probes on each target."
  type        = string
  default     = "/health"

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "health_check_path must start with a slash."
  }
}

variable "health_check_interval" {
  description = "Seconds between ALB health checks of one target."
  type        = number
  default     = 15

  validation {
    condition     = var.health_check_interval >= 5 && var.health_check_interval <= 300
    error_message = "health_check_interval must be from 5 to 300 seconds."
  }
}

variable "health_check_timeout" {
  description = "Seconds after which an ALB health check with no answer fails; less than the interval."
  type        = number
  default     = 5

  validation {
    condition     = var.health_check_timeout >= 2 && var.health_check_timeout <= 120 && var.health_check_timeout < var.health_check_interval
    error_message = "health_check_timeout must be from 2 to 120 seconds and shorter than health_check_interval."
  }
}

variable "healthy_threshold" {
  description = "Consecutive successful checks before a target is healthy."
  type        = number
  default     = 2

  validation {
    condition     = var.healthy_threshold >= 2 && var.healthy_threshold <= 10
    error_message = "healthy_threshold must be from 2 to 10."
  }
}

variable "unhealthy_threshold" {
  description = "Consecutive failed checks before a target is unhealthy."
  type        = number
  default     = 3

  validation {
    condition     = var.unhealthy_threshold >= 2 && var.unhealthy_threshold <= 10
    error_message = "unhealthy_threshold must be from 2 to 10."
  }
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancer until this is set to false and applied."
  type        = bool
  default     = true
}

variable "access_logs_bucket" {
  description = "S3 bucket for ALB access logs (its policy must let the region's ELB account write). Null disables access logs."
  type        = string
  default     = null
}

variable "access_logs_prefix" {
  description = "Key prefix of the access logs in access_logs_bucket."
  type        = string
  default     = "alb"
}

variable "hsts_max_age" {
  description = "max-age (seconds) of the Strict-Transport-Security header the HTTPS listener adds to responses; 0 adds none."
  type        = number
  default     = 31536000
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
