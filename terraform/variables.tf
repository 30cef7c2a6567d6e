# ---------------------------------------------------------------------------------------------
# Where and what

variable "region" {
  description = "AWS region to deploy to (the ACM certificate must be in it)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "name" {
  description = "Name of the deployment: prefix of every resource (cluster, service, ALB, table, key alias)."
  type        = string
  default     = "mcpgw"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.name))
    error_message = "name must be 1-20 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "domain_name" {
  description = "Domain the gateway is served on; clients use https://<domain_name>/mcp."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,}$", var.domain_name))
    error_message = "domain_name must be a lower-case DNS name such as mcp.example.com (no scheme, no path)."
  }
}

variable "certificate_arn" {
  description = "ARN of an issued ACM certificate for domain_name, in the same region."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-zA-Z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)."
  }

  validation {
    condition     = try(split(":", var.certificate_arn)[3] == var.region, false)
    error_message = "certificate_arn is in ${try(split(":", var.certificate_arn)[3], "?")}, but the ALB is in region ${var.region}: an ALB can only use an ACM certificate of its own region (request one there)."
  }
}

variable "route53_zone_id" {
  description = "Route 53 hosted zone to create the domain's alias record in. Null: point the domain at the ALB yourself (see alb_dns_name)."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------------------------
# Image

variable "image" {
  description = "Gateway image: repository[:tag] or repository@sha256:digest. Null uses the repository created with create_ecr_repository."
  type        = string
  default     = null

  validation {
    condition     = var.image != null || var.create_ecr_repository
    error_message = "Give image, or set create_ecr_repository = true and push to the repository it creates."
  }

  # The repository create_ecr_repository makes has immutable tags and nothing called latest:
  # its bare URL would make every task fail to pull.
  validation {
    condition     = var.image != null || var.worker_image_tag != null
    error_message = "With image = null (the repository from create_ecr_repository) set worker_image_tag to the tag or digest you pushed."
  }
}

variable "worker_image_tag" {
  description = "Tag (or sha256:digest) of the image to run; replaces any tag in image. The one image holds lighttpd, the entrypoint and the worker pool, so a new tag rolls all three (new tasks); no other setting changes."
  type        = string
  default     = null

  validation {
    condition     = var.worker_image_tag == null || can(regex("^(sha256:[a-f0-9]{64}|[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", coalesce(var.worker_image_tag, "x")))
    error_message = "worker_image_tag must be an image tag or a sha256:<64 hex> digest."
  }
}

variable "create_ecr_repository" {
  description = "Create a private ECR repository named after name (scan on push, immutable tags, lifecycle policy)."
  type        = bool
  default     = false
}

variable "ecr_force_delete" {
  description = "Let terraform destroy delete the ECR repository (create_ecr_repository) while it still holds images. Off: destroy fails on a repository with images."
  type        = bool
  default     = false
}

variable "cpu_architecture" {
  description = "CPU architecture the image is built for: X86_64 or ARM64."
  type        = string
  default     = "X86_64"
}

# ---------------------------------------------------------------------------------------------
# Size and scaling

variable "task_cpu" {
  description = "Task CPU units. 256 (0.25 vCPU) is the default until benchmarks of the gateway justify more."
  type        = number
  default     = 256

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.task_cpu)
    error_message = "task_cpu = ${var.task_cpu} is not a Fargate task size. Valid task_cpu values: 256, 512, 1024, 2048, 4096, 8192, 16384."
  }
}

variable "task_memory" {
  description = "Task memory in MiB, valid for task_cpu on Fargate."
  type        = number
  default     = 512

  validation {
    condition     = contains(lookup(local.fargate_memory_by_cpu, tostring(var.task_cpu), []), var.task_memory)
    error_message = "Fargate does not accept task_cpu = ${var.task_cpu} with task_memory = ${var.task_memory}. Valid memory (MiB) for cpu ${var.task_cpu}: ${join(", ", lookup(local.fargate_memory_by_cpu, tostring(var.task_cpu), ["none (task_cpu is not a Fargate size)"]))}."
  }
}

variable "min_capacity" {
  description = "Fewest tasks (also the count the service starts with). Used exactly as given."
  type        = number
  default     = 2

  validation {
    condition     = var.min_capacity >= 1 && floor(var.min_capacity) == var.min_capacity
    error_message = "min_capacity must be a whole number, at least 1."
  }
}

variable "max_capacity" {
  description = "Most tasks. Used exactly as given."
  type        = number
  default     = 10

  validation {
    condition     = var.max_capacity >= var.min_capacity && floor(var.max_capacity) == var.max_capacity
    error_message = "max_capacity (${var.max_capacity}) must be a whole number and at least min_capacity (${var.min_capacity})."
  }
}

variable "cpu_target" {
  description = "Average CPU utilisation (%) that target tracking keeps the service at."
  type        = number
  default     = 60
}

variable "requests_per_target_high" {
  description = "Requests per task per minute above which step scaling adds tasks."
  type        = number
  default     = 3000
}

variable "requests_per_target_low" {
  description = "Requests per task per minute below which step scaling removes a task."
  type        = number
  default     = 600
}

# ---------------------------------------------------------------------------------------------
# Secrets and application settings

variable "google_client_id_secret_arn" {
  description = "Complete ARN of the Secrets Manager secret holding the Google OAuth client ID (MCPGW_GOOGLE_CLIENT_ID)."
  type        = string

  validation {
    condition     = can(regex(local.secret_arn_pattern, var.google_client_id_secret_arn))
    error_message = "google_client_id_secret_arn must be the complete ARN of a Secrets Manager secret, ending in the 6-character suffix Secrets Manager adds to the name (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf, optionally followed by :json-key::). A partial ARN would pass ECS but not the execution role's exact grant; aws secretsmanager describe-secret --secret-id NAME --query ARN prints the complete one."
  }

  validation {
    condition     = try(split(":", var.google_client_id_secret_arn)[3] == var.region, false)
    error_message = "google_client_id_secret_arn is in ${try(split(":", var.google_client_id_secret_arn)[3], "?")}, but the service runs in region ${var.region}: ECS reads a task's secrets in its own region."
  }
}

variable "google_client_secret_secret_arn" {
  description = "Complete ARN of the Secrets Manager secret holding the Google OAuth client secret (MCPGW_GOOGLE_CLIENT_SECRET)."
  type        = string

  validation {
    condition     = can(regex(local.secret_arn_pattern, var.google_client_secret_secret_arn))
    error_message = "google_client_secret_secret_arn must be the complete ARN of a Secrets Manager secret, ending in the 6-character suffix Secrets Manager adds to the name (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf, optionally followed by :json-key::). A partial ARN would pass ECS but not the execution role's exact grant; aws secretsmanager describe-secret --secret-id NAME --query ARN prints the complete one."
  }

  validation {
    condition     = try(split(":", var.google_client_secret_secret_arn)[3] == var.region, false)
    error_message = "google_client_secret_secret_arn is in ${try(split(":", var.google_client_secret_secret_arn)[3], "?")}, but the service runs in region ${var.region}: ECS reads a task's secrets in its own region."
  }
}

variable "signing_key_secret_arn" {
  description = "Complete ARN of the Secrets Manager secret holding the gateway's token signing key (MCPGW_SIGNING_KEY)."
  type        = string

  validation {
    condition     = can(regex(local.secret_arn_pattern, var.signing_key_secret_arn))
    error_message = "signing_key_secret_arn must be the complete ARN of a Secrets Manager secret, ending in the 6-character suffix Secrets Manager adds to the name (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf, optionally followed by :json-key::). A partial ARN would pass ECS but not the execution role's exact grant; aws secretsmanager describe-secret --secret-id NAME --query ARN prints the complete one."
  }

  validation {
    condition     = try(split(":", var.signing_key_secret_arn)[3] == var.region, false)
    error_message = "signing_key_secret_arn is in ${try(split(":", var.signing_key_secret_arn)[3], "?")}, but the service runs in region ${var.region}: ECS reads a task's secrets in its own region."
  }
}

variable "secrets_kms_key_arn" {
  description = "ARN of the customer-managed KMS key the three secrets are encrypted with; null when they use aws/secretsmanager."
  type        = string
  default     = null

  validation {
    condition     = var.secrets_kms_key_arn == null || try(split(":", var.secrets_kms_key_arn)[3] == var.region && can(regex("^arn:aws[a-zA-Z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.secrets_kms_key_arn)), false)
    error_message = "secrets_kms_key_arn must be the ARN of a KMS key (not an alias) in region ${var.region}, or null."
  }
}

variable "allowed_email_domains" {
  description = "E-mail domains whose Google accounts may sign in (MCPGW_ALLOWED_EMAIL_DOMAINS)."
  type        = list(string)
}

variable "upstreams" {
  description = "Upstream MCP servers to federate: list of { name, url, headers = optional map, timeout_ms = optional }. A header holding a credential must reference it as $${VAR} and upstream_secrets must map VAR to a Secrets Manager ARN."
  type = list(object({
    name       = string
    url        = string
    headers    = optional(map(string), {})
    timeout_ms = optional(number)
  }))
  default = []
}

variable "upstream_separator" {
  description = "Separator between an upstream's name and its tool names (github__create_issue)."
  type        = string
  default     = "__"
}

variable "upstream_secrets" {
  description = "Secrets the upstream headers reference: map of environment variable name (the VAR in $${VAR}) to the complete Secrets Manager ARN. The execution role may read exactly these and the three gateway secrets."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(setintersection(keys(var.upstream_secrets), ["MCPGW_GOOGLE_CLIENT_ID", "MCPGW_GOOGLE_CLIENT_SECRET", "MCPGW_SIGNING_KEY"])) == 0
    error_message = "upstream_secrets may not reuse the names of the gateway's own secrets (MCPGW_GOOGLE_CLIENT_ID, MCPGW_GOOGLE_CLIENT_SECRET, MCPGW_SIGNING_KEY)."
  }

  validation {
    condition     = alltrue([for v in values(var.upstream_secrets) : can(regex(local.secret_arn_pattern, v))])
    error_message = "Every value of upstream_secrets must be the complete ARN of a Secrets Manager secret, with the 6-character suffix (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf, optionally followed by :json-key::); not these: ${join(", ", [for k, v in var.upstream_secrets : k if !can(regex(local.secret_arn_pattern, v))])}."
  }

  validation {
    condition     = alltrue([for v in values(var.upstream_secrets) : try(split(":", v)[3] == var.region, false)])
    error_message = "Every secret of upstream_secrets must be in region ${var.region} (ECS reads a task's secrets in its own region); not these: ${join(", ", [for k, v in var.upstream_secrets : k if !try(split(":", v)[3] == var.region, false)])}."
  }
}

variable "allowed_origins" {
  description = "Browser origins allowed to call /mcp (MCPGW_ALLOWED_ORIGINS), e.g. [\"https://app.example.com\"]; clients that send no Origin are never refused for that."
  type        = list(string)
  default     = []
}

variable "egress_ports" {
  description = "TCP ports the tasks may connect out to (AWS APIs and most upstreams use 443); add the ports of upstreams that listen elsewhere."
  type        = list(number)
  default     = [443]
}

variable "extra_environment" {
  description = "Further plain (non-secret) environment variables for the gateway container."
  type        = map(string)
  default     = {}
}

variable "redeploy_trigger" {
  description = "Set in terraform.tfvars and change to a new value (e.g. \"2025-06-01 rotated signing key\") to make the next apply start a fresh deployment, whose tasks re-read their secrets. Keep it there: an unchanged value plans nothing, while passing it once with -var would leave a change for the next plain apply."
  type        = string
  default     = null

  validation {
    condition     = var.redeploy_trigger == null || try(length(trimspace(var.redeploy_trigger)) > 0, false)
    error_message = "redeploy_trigger must be a non-empty string, or null."
  }
}

# ---------------------------------------------------------------------------------------------
# Network

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC (/16 to /20)."
  type        = string
  default     = "10.0.0.0/16"
}

variable "az_count" {
  description = "Number of availability zones (2-6)."
  type        = number
  default     = 2
}

variable "nat_gateway_mode" {
  description = "single, one_per_az or none (none needs enable_vpc_endpoints = true, and the gateway then reaches no non-AWS host: Google sign-in and upstream MCP servers need NAT)."
  type        = string
  default     = "single"
}

variable "enable_vpc_endpoints" {
  description = "Create VPC endpoints (DynamoDB and S3 gateways; ECR, Logs, Secrets Manager, KMS interfaces) so AWS traffic bypasses NAT."
  type        = bool
  default     = false

  validation {
    condition     = var.enable_vpc_endpoints || var.nat_gateway_mode != "none"
    error_message = "With nat_gateway_mode = \"none\" the tasks need enable_vpc_endpoints = true to pull their image, write logs and read secrets."
  }
}

variable "enable_flow_logs" {
  description = "Record VPC flow logs in CloudWatch."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------
# Load balancer and the drain contract

variable "alb_ssl_policy" {
  description = "TLS 1.3 policy of the HTTPS listener."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "alb_ingress_cidr_blocks" {
  description = "IPv4 ranges allowed to reach the ALB. No default: the gateway has no sign-in yet (docs/DEPLOY.md, Status), so whoever reaches the ALB can use every upstream; choose who that is. [\"0.0.0.0/0\"] opens it to the internet."
  type        = list(string)

  validation {
    condition     = length(var.alb_ingress_cidr_blocks) > 0 && alltrue([for c in var.alb_ingress_cidr_blocks : can(cidrhost(c, 0))])
    error_message = "alb_ingress_cidr_blocks must list at least one IPv4 CIDR block, e.g. [\"203.0.113.0/24\"]."
  }
}

variable "alb_public_paths" {
  description = "Path patterns the ALB forwards to the gateway (ALB syntax, 1 to 5, checked by the alb module); every other path gets a 404 from the ALB. The default is the MCP endpoint and the OAuth discovery documents: /health, /ready and /status stay internal."
  type        = list(string)
  default     = ["/mcp", "/.well-known/*"]
}

variable "alb_idle_timeout" {
  description = "ALB idle timeout in seconds; lighttpd's keep-alive idle is set to this + 5."
  type        = number
  default     = 60
}

variable "alb_deletion_protection" {
  description = "Protect the ALB from deletion (set false and apply before terraform destroy)."
  type        = bool
  default     = true
}

variable "alb_access_logs_bucket" {
  description = "S3 bucket for ALB access logs; null disables them."
  type        = string
  default     = null
}

variable "container_port" {
  description = "Port lighttpd listens on in the container (MCPGW_PORT)."
  type        = number
  default     = 8080
}

variable "drain_delay" {
  description = "MCPGW_DRAIN_DELAY: seconds /health answers 503 after SIGTERM before lighttpd stops accepting; covers stops that do not begin with a deregistration (failed health checks, StopTask, Fargate Spot)."
  type        = number
  default     = 5

  validation {
    condition     = var.drain_delay >= 0 && floor(var.drain_delay) == var.drain_delay
    error_message = "drain_delay must be a whole number of seconds, 0 or more."
  }
}

variable "stop_budget" {
  description = "MCPGW_STOP_BUDGET: seconds the container allows itself to stop after SIGTERM: drain_delay, then lighttpd's graceful stop (the entrypoint gives it stop_budget - drain_delay - 3 s), then the pool's (3 s). The default lets a request of request_timeout (60 s) finish in a stop that does not begin with a deregistration."
  type        = number
  default     = 70

  validation {
    condition     = var.stop_budget >= var.drain_delay + 4 && var.stop_budget < 120
    error_message = "stop_budget (${var.stop_budget} s) must be at least drain_delay (${var.drain_delay} s) + 1 s for lighttpd's graceful stop + 3 s the entrypoint keeps for the pool's, and below 120 s."
  }
}

variable "stop_timeout" {
  description = "ECS stopTimeout: seconds from SIGTERM to SIGKILL; more than stop_budget, at most 120."
  type        = number
  default     = 75

  validation {
    condition     = var.stop_timeout > var.stop_budget && var.stop_timeout <= 120
    error_message = "stop_timeout (${var.stop_timeout} s) must be greater than stop_budget (${var.stop_budget} s) and at most 120 s."
  }
}

variable "request_timeout" {
  description = "MCPGW_REQUEST_TIMEOUT: seconds one request may run before the pool kills its worker; longer than every upstream time limit (30 s by default), shorter than deregistration_delay."
  type        = number
  default     = 60

  validation {
    condition     = var.request_timeout >= 1 && var.request_timeout < 3600 && floor(var.request_timeout) == var.request_timeout
    error_message = "request_timeout must be a whole number of seconds from 1 to 3599 (0, \"never\", cannot be outlasted by the ALB's deregistration delay)."
  }

  validation {
    condition     = var.request_timeout * 1000 > max(concat([try(tonumber(var.extra_environment["MCPGW_UPSTREAM_TIMEOUT_MS"]), 30000)], [for u in var.upstreams : coalesce(u.timeout_ms, 0)])...)
    error_message = "request_timeout (${var.request_timeout} s) must be longer than the longest upstream time limit (upstreams[].timeout_ms, or MCPGW_UPSTREAM_TIMEOUT_MS in extra_environment, 30000 ms by default), or the pool kills workers still waiting for an upstream."
  }
}

variable "deregistration_delay" {
  description = "ALB deregistration delay in seconds. On a deployment or scale-in ECS deregisters a task, waits this long while the task finishes its requests in flight, and only then sends SIGTERM: so it must be longer than request_timeout."
  type        = number
  default     = 65

  validation {
    condition     = var.deregistration_delay > var.request_timeout && var.deregistration_delay <= 3600 && floor(var.deregistration_delay) == var.deregistration_delay
    error_message = "deregistration_delay (${var.deregistration_delay} s) must be a whole number of seconds longer than request_timeout (${var.request_timeout} s), or deployments and scale-ins cut requests still in flight, and at most 3600 s."
  }
}

variable "health_check_grace_period" {
  description = "Seconds after a task starts during which ECS ignores failing ALB health checks."
  type        = number
  default     = 60
}

# ---------------------------------------------------------------------------------------------
# Data and logs

variable "log_retention_days" {
  description = "Retention of the container logs, in days."
  type        = number
  default     = 30
}

variable "encrypt_logs" {
  description = "Encrypt the container log group and the VPC flow-log group with the gateway's KMS key."
  type        = bool
  default     = true
}

variable "table_deletion_protection" {
  description = "Protect the sessions table from deletion (set false and apply before terraform destroy)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource (through the provider's default_tags)."
  type        = map(string)
  default     = {}
}
