variable "name" {
  description = "Name of the ECS cluster, service, task family and container, and prefix of the IAM roles and log group."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9_-]{0,31}$", var.name))
    error_message = "name must be 1-32 letters, digits, hyphens or underscores, starting with a letter or digit."
  }
}

variable "vpc_id" {
  description = "ID of the VPC of the tasks."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets the tasks run in (they never get a public IP)."
  type        = list(string)

  validation {
    condition     = length(var.private_subnet_ids) >= 1
    error_message = "private_subnet_ids must name at least one subnet."
  }
}

variable "alb_security_group_id" {
  description = "Security group of the ALB: the only source allowed to reach the container port."
  type        = string
}

variable "target_group_arn" {
  description = "ARN of the ALB target group (type ip) the tasks register in. Pass the alb module's output, which is known only once a listener forwards to the group (ECS refuses a group not attached to a load balancer)."
  type        = string
}

variable "alb_idle_timeout" {
  description = "Idle timeout of the ALB in seconds. The container gets MCPGW_KEEPALIVE_IDLE = this + keepalive_margin, so lighttpd never closes a connection the ALB still considers open."
  type        = number
  default     = 60

  validation {
    condition     = var.alb_idle_timeout >= 1 && var.alb_idle_timeout <= 4000
    error_message = "alb_idle_timeout must be from 1 to 4000 seconds."
  }
}

variable "keepalive_margin" {
  description = "Seconds added to alb_idle_timeout to get lighttpd's keep-alive idle (MCPGW_KEEPALIVE_IDLE)."
  type        = number
  default     = 5

  validation {
    condition     = var.keepalive_margin >= 1
    error_message = "keepalive_margin must be at least 1 second: lighttpd's keep-alive idle must be strictly longer than the ALB's idle timeout."
  }
}

variable "alb_deregistration_delay" {
  description = "Deregistration delay of the target group in seconds. When ECS itself stops a task (deployment, scale-in) it deregisters the target, waits this long while the task keeps serving its requests in flight, and only then sends SIGTERM: so it must be longer than request_timeout (checked at plan)."
  type        = number
  default     = 65

  validation {
    condition     = var.alb_deregistration_delay > var.request_timeout && var.alb_deregistration_delay <= 3600
    error_message = "alb_deregistration_delay (${var.alb_deregistration_delay} s) must be longer than request_timeout (${var.request_timeout} s, MCPGW_REQUEST_TIMEOUT), or a deployment or scale-in cuts requests still in flight, and at most 3600 s (the ALB maximum)."
  }
}

variable "request_timeout" {
  description = "MCPGW_REQUEST_TIMEOUT: seconds one request may run before the pool kills its worker. Must exceed every upstream time limit (upstreams[].timeout_ms, MCPGW_UPSTREAM_TIMEOUT_MS, 30 s by default) and be shorter than alb_deregistration_delay."
  type        = number
  default     = 60

  validation {
    condition     = var.request_timeout >= 1 && var.request_timeout < 3600 && floor(var.request_timeout) == var.request_timeout
    error_message = "request_timeout must be a whole number of seconds from 1 to 3599: the ALB's deregistration delay (at most 3600 s) must outlast it, so 0 (never) is not accepted here."
  }

  validation {
    condition     = var.request_timeout * 1000 > max(concat([try(tonumber(var.environment["MCPGW_UPSTREAM_TIMEOUT_MS"]), 30000)], [for u in var.upstreams : coalesce(u.timeout_ms, 0)])...)
    error_message = "request_timeout (${var.request_timeout} s) must be longer than the longest upstream time limit (upstreams[].timeout_ms, or MCPGW_UPSTREAM_TIMEOUT_MS in environment, 30000 ms by default): the pool would kill a worker still waiting for its upstream."
  }
}

variable "image" {
  description = "Container image of the gateway: a full reference (repository:tag or repository@sha256:digest), or a bare repository when worker_image_tag is given."
  type        = string

  validation {
    condition     = length(trimspace(var.image)) > 0
    error_message = "image must not be empty."
  }
}

variable "worker_image_tag" {
  description = "Tag (or sha256:digest) to run from the image's repository; replaces any tag in image. Changing only this rolls the tasks to a new build without touching anything else. Null runs image as given."
  type        = string
  default     = null
}

variable "ecr_repository_arn" {
  description = "ARN of the ECR repository the image comes from, for the execution role's pull permission. Null derives it from an ECR image URI; an image from outside private ECR needs no pull permission."
  type        = string
  default     = null
}

variable "cpu_architecture" {
  description = "CPU architecture of the image: X86_64 or ARM64."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "cpu" {
  description = "Task CPU units (256 = 0.25 vCPU). Fargate accepts 256, 512, 1024, 2048, 4096, 8192, 16384."
  type        = number
  default     = 256

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu = ${var.cpu} is not a Fargate task size. Valid cpu values: 256, 512, 1024, 2048, 4096, 8192, 16384."
  }
}

variable "memory" {
  description = "Task memory in MiB; must be valid for the chosen cpu on Fargate (checked at plan, the provider does not)."
  type        = number
  default     = 512

  validation {
    condition     = contains(lookup(local.fargate_memory_by_cpu, tostring(var.cpu), []), var.memory)
    error_message = "Fargate does not accept cpu = ${var.cpu} with memory = ${var.memory}. Valid memory (MiB) for cpu ${var.cpu}: ${join(", ", lookup(local.fargate_memory_by_cpu, tostring(var.cpu), ["none (cpu is not a Fargate size)"]))}."
  }
}

variable "container_port" {
  description = "Port lighttpd listens on in the container (MCPGW_PORT)."
  type        = number
  default     = 8080

  validation {
    condition     = var.container_port >= 1024 && var.container_port <= 65535 && floor(var.container_port) == var.container_port
    error_message = "container_port must be a whole number from 1024 to 65535 (the container runs as a non-root user)."
  }
}

variable "desired_count" {
  description = "Number of tasks when the service is first created. Ignored afterwards: autoscaling owns the count."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 0 && floor(var.desired_count) == var.desired_count
    error_message = "desired_count must be a whole number, 0 or more."
  }
}

variable "health_check_grace_period" {
  description = "Seconds after a task starts during which ECS ignores failing ALB health checks."
  type        = number
  default     = 60

  validation {
    condition     = var.health_check_grace_period >= 0 && var.health_check_grace_period <= 2147483647
    error_message = "health_check_grace_period must be 0 or more."
  }
}

variable "container_health_check" {
  description = "Container health check timings, all in seconds (the command is always the image entrypoint's --health). ECS limits: interval 5-300, timeout 2-60 (and less than interval), retries 1-10, start_period 0-300."
  type = object({
    interval     = number
    timeout      = number
    retries      = number
    start_period = number
  })
  default = {
    interval     = 15
    timeout      = 5
    retries      = 3
    start_period = 30
  }

  validation {
    condition = (
      var.container_health_check.interval >= 5 && var.container_health_check.interval <= 300 &&
      var.container_health_check.timeout >= 2 && var.container_health_check.timeout <= 60 &&
      var.container_health_check.timeout < var.container_health_check.interval &&
      var.container_health_check.retries >= 1 && var.container_health_check.retries <= 10 &&
      var.container_health_check.start_period >= 0 && var.container_health_check.start_period <= 300
    )
    error_message = "container_health_check must have interval 5-300, timeout 2-60 and shorter than interval, retries 1-10, start_period 0-300."
  }
}

variable "drain_delay" {
  description = "MCPGW_DRAIN_DELAY: seconds between SIGTERM (health turns 503) and lighttpd's graceful stop. It matters for stops that do not begin with a deregistration (a failed health check, StopTask, a Fargate Spot interruption): the ALB learns of those only as the task stops, and keeps sending for a few seconds."
  type        = number
  default     = 5

  validation {
    condition     = var.drain_delay >= 0 && floor(var.drain_delay) == var.drain_delay
    error_message = "drain_delay must be a whole number of seconds, 0 or more (stop_budget must cover it, see there)."
  }
}

variable "stop_budget" {
  description = "MCPGW_STOP_BUDGET: total seconds the entrypoint allows itself to stop after SIGTERM: drain_delay, then lighttpd's graceful stop (requests in flight get stop_budget - drain_delay - 3 s), then the pool's (3 s). The default lets a request of request_timeout (60 s) finish in a stop that does not begin with a deregistration."
  type        = number
  default     = 70

  validation {
    condition     = var.stop_budget >= 1 && var.stop_budget < 120
    error_message = "stop_budget must be from 1 to 119 seconds (ECS kills the container at stop_timeout, at most 120 s)."
  }

  validation {
    condition     = var.stop_budget >= var.drain_delay + local.entrypoint_pool_reserve + 1
    error_message = "stop_budget (${var.stop_budget} s) must be at least drain_delay (${var.drain_delay} s) + 1 s for lighttpd's graceful stop + ${local.entrypoint_pool_reserve} s the entrypoint keeps for the pool's."
  }
}

variable "stop_timeout" {
  description = "ECS stopTimeout: seconds between SIGTERM and SIGKILL. Must exceed stop_budget, and Fargate allows at most 120."
  type        = number
  default     = 75

  validation {
    condition     = var.stop_timeout > var.stop_budget && var.stop_timeout <= 120
    error_message = "stop_timeout (${var.stop_timeout} s) must be greater than stop_budget (${var.stop_budget} s), or the container is killed mid-drain, and at most 120 s (the Fargate maximum)."
  }
}

variable "region" {
  description = "AWS region of the service (AWS_REGION in the container and the awslogs region). Null uses the provider's region."
  type        = string
  default     = null
}

variable "public_url" {
  description = "MCPGW_PUBLIC_URL: the https:// origin clients use, without a trailing slash."
  type        = string

  validation {
    condition     = can(regex("^https://[a-zA-Z0-9.-]+(:[0-9]+)?$", var.public_url))
    error_message = "public_url must look like https://gateway.example.com (https, no path, no trailing slash)."
  }
}

variable "allowed_email_domains" {
  description = "MCPGW_ALLOWED_EMAIL_DOMAINS: e-mail domains whose Google accounts may sign in."
  type        = list(string)

  validation {
    condition     = length(var.allowed_email_domains) > 0 && alltrue([for d in var.allowed_email_domains : can(regex("^[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$", d))])
    error_message = "allowed_email_domains must list at least one domain, like example.com."
  }
}

variable "sessions_table_name" {
  description = "Name of the DynamoDB sessions table (MCPGW_STORE=dynamodb:<name>)."
  type        = string
}

variable "sessions_table_arn" {
  description = "ARN of the DynamoDB sessions table: the task role may use exactly this table."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-zA-Z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/.+$", var.sessions_table_arn))
    error_message = "sessions_table_arn must be a DynamoDB table ARN."
  }
}

variable "app_kms_key_arn" {
  description = "ARN of the application's KMS key (MCPGW_KMS_KEY_ID): the task role may use exactly this key."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-zA-Z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.app_kms_key_arn))
    error_message = "app_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias."
  }
}

variable "secrets" {
  description = "Secrets given to the container as environment variables, read from Secrets Manager when a task starts: map of variable name to the secret's complete ARN (optionally followed by :json-key:version-stage:version-id). The execution role may read exactly these secrets."
  type        = map(string)

  validation {
    condition     = alltrue([for v in values(var.secrets) : can(regex(local.secret_arn_pattern, v))])
    error_message = "every value of secrets must be a complete Secrets Manager secret ARN, with the 6-character suffix Secrets Manager adds to the name (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf), optionally followed by :json-key:version-stage:version-id (e.g. NAME-AbCdEf:signing::). A partial ARN (without the suffix) would pass ECS but not the execution role's exact-ARN grant: aws secretsmanager describe-secret --secret-id NAME --query ARN prints the complete one."
  }

  validation {
    condition     = alltrue([for k in keys(var.secrets) : can(regex("^[A-Z_][A-Z0-9_]*$", k))])
    error_message = "every key of secrets must be an environment variable name (capitals, digits, underscores)."
  }
}

variable "secrets_kms_key_arn" {
  description = "ARN of the customer-managed KMS key the secrets are encrypted with; the execution role may decrypt with it through Secrets Manager only. Null when the secrets use the AWS-managed aws/secretsmanager key."
  type        = string
  default     = null

  validation {
    condition     = var.secrets_kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", coalesce(var.secrets_kms_key_arn, "-")))
    error_message = "secrets_kms_key_arn must be a KMS key ARN (not an alias) or null."
  }
}

variable "environment" {
  description = "Extra plain environment variables for the container. Secrets never go here (use secrets); names the module sets itself may not be overridden."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.environment) : !can(regex("(?i)(SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE_KEY|SIGNING_KEY|CREDENTIAL|API_KEY)", k))])
    error_message = "environment must not carry secrets (a name contains SECRET, PASSWORD, TOKEN, PRIVATE_KEY, SIGNING_KEY, CREDENTIAL or API_KEY): put them in Secrets Manager and pass the ARN in secrets."
  }

  validation {
    condition = length(setintersection(keys(var.environment), [
      "AWS_REGION", "MCPGW_STORE", "MCPGW_KMS_KEY_ID", "MCPGW_ALLOWED_EMAIL_DOMAINS", "MCPGW_PUBLIC_URL",
      "MCPGW_BIND", "MCPGW_PORT", "MCPGW_KEEPALIVE_IDLE", "MCPGW_DRAIN_DELAY", "MCPGW_STOP_BUDGET",
      "MCPGW_REQUEST_TIMEOUT", "MCPGW_ALLOWED_ORIGINS", "MCPGW_UPSTREAMS_JSON", "MCPGW_UPSTREAMS",
    ])) == 0
    error_message = "environment may not set AWS_REGION or MCPGW_STORE, MCPGW_KMS_KEY_ID, MCPGW_ALLOWED_EMAIL_DOMAINS, MCPGW_PUBLIC_URL, MCPGW_BIND, MCPGW_PORT, MCPGW_KEEPALIVE_IDLE, MCPGW_DRAIN_DELAY, MCPGW_STOP_BUDGET, MCPGW_REQUEST_TIMEOUT, MCPGW_ALLOWED_ORIGINS, MCPGW_UPSTREAMS_JSON, MCPGW_UPSTREAMS: the module derives them from its inputs (request_timeout, upstreams, allowed_origins, ...)."
  }
}

variable "log_retention_days" {
  description = "Retention of the container log group, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "log_group_name" {
  description = "Name of the container log group; null uses \"/ecs/<name>\"."
  type        = string
  default     = null
}

variable "log_kms_key_arn" {
  description = "KMS key ARN to encrypt the log group with; its policy must allow the CloudWatch Logs service for this log group. Null keeps CloudWatch's default encryption."
  type        = string
  default     = null
}

variable "container_insights" {
  description = "Container Insights level of the cluster: enabled or enhanced."
  type        = string
  default     = "enabled"

  validation {
    condition     = contains(["enabled", "enhanced"], var.container_insights)
    error_message = "container_insights must be enabled or enhanced (it is never turned off)."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

variable "egress_ports" {
  description = "TCP ports the tasks may open outbound connections to, anywhere (AWS APIs, Google sign-in and upstream MCP servers use 443)."
  type        = list(number)
  default     = [443]

  validation {
    condition     = alltrue([for p in var.egress_ports : p >= 1 && p <= 65535 && floor(p) == p])
    error_message = "egress_ports must be TCP port numbers."
  }
}

variable "redeploy_trigger" {
  description = "Any string; changing it makes the next apply start a new deployment of the same task definition (tasks read their secrets when they start, so this is how a rotated secret reaches them from Terraform). Keep passing the same value afterwards: an unchanged value plans nothing, while going back to null plans an in-place change of the service (without a deployment). Null sets no trigger."
  type        = string
  default     = null
}

variable "upstreams" {
  description = "The upstream MCP servers the gateway federates, passed as MCPGW_UPSTREAMS_JSON (docs/CONFIG.md, \"The upstreams file\"). Header values may use $${VAR} to take a secret from the environment: give the secret's ARN in secrets under that name."
  type = list(object({
    name       = string
    url        = string
    headers    = optional(map(string), {})
    timeout_ms = optional(number)
  }))
  default = []

  validation {
    condition     = length(var.upstreams) <= 64 && length(distinct([for u in var.upstreams : u.name])) == length(var.upstreams)
    error_message = "upstreams must have unique names, at most 64 of them."
  }

  validation {
    condition     = alltrue([for u in var.upstreams : can(regex("^[A-Za-z0-9_.-]{1,32}$", u.name)) && can(regex("^https?://[^/\\s]+", u.url))])
    error_message = "every upstream needs a name of 1-32 of A-Z a-z 0-9 _ - . and an http:// or https:// url."
  }

  validation {
    condition     = alltrue([for u in var.upstreams : u.timeout_ms == null ? true : (u.timeout_ms >= 100 && u.timeout_ms <= 600000)])
    error_message = "an upstream's timeout_ms must be 100 to 600000."
  }

  # A header that carries a credential must take it from the environment (a Secrets Manager
  # secret), never hold it: the task definition is readable by anyone with ecs:Describe*.
  validation {
    condition = alltrue(flatten([for u in var.upstreams : [
      for k, v in u.headers : strcontains(v, "$${") if can(regex("(?i)(authorization|token|secret|api[-_]?key|password|cookie)", k))
    ]]))
    error_message = "an upstream header that carries a credential (Authorization, *Token*, *Secret*, *Api-Key*, *Password*, Cookie) must reference a secret as $${VAR}, e.g. \"Bearer $${GITHUB_MCP_TOKEN}\", and secrets must map VAR to the secret's ARN."
  }
}

variable "upstream_separator" {
  description = "Between an upstream's name and its tool names (github__create_issue); 1-7 of A-Z a-z 0-9 _ - . and not part of any upstream name."
  type        = string
  default     = "__"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,7}$", var.upstream_separator))
    error_message = "upstream_separator must be 1-7 of A-Z a-z 0-9 _ - ."
  }

  validation {
    condition     = alltrue([for u in var.upstreams : !strcontains(u.name, var.upstream_separator)])
    error_message = "no upstream name may contain upstream_separator: the gateway could not tell where the name ends."
  }
}

variable "allowed_origins" {
  description = "Browser origins allowed to call /mcp (MCPGW_ALLOWED_ORIGINS), e.g. [\"https://app.example.com\"]. Requests without an Origin header (non-browser clients) are never refused for that."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.allowed_origins) <= 32 && alltrue([for o in var.allowed_origins : can(regex("^https?://[^/\\s]+$", o))])
    error_message = "allowed_origins must be at most 32 origins like https://app.example.com (scheme and host, no path)."
  }
}
