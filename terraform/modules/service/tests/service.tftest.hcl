# Offline tests of the service module (mock AWS provider): the known pitfalls of running the
# gateway on Fargate, and the security rules scanners apply to ECS and IAM.

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
}

variables {
  name                  = "mcpgw"
  vpc_id                = "vpc-0123456789abcdef0"
  private_subnet_ids    = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
  alb_security_group_id = "sg-0a1b2c3d4e5f60718"
  target_group_arn      = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/mcpgw/0123456789abcdef"
  image                 = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mcpgw:1.0.0"
  public_url            = "https://mcp.example.com"
  allowed_email_domains = ["example.com", "example.org"]
  sessions_table_name   = "mcpgw-sessions"
  sessions_table_arn    = "arn:aws:dynamodb:eu-west-1:123456789012:table/mcpgw-sessions"
  app_kms_key_arn       = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  secrets_kms_key_arn   = "arn:aws:kms:eu-west-1:123456789012:key/99999999-8888-7777-6666-555555555555"
  secrets = {
    MCPGW_GOOGLE_CLIENT_ID     = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/google-client-id-AbCdEf"
    MCPGW_GOOGLE_CLIENT_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/google-client-secret-GhIjKl"
    # A JSON key of a secret: IAM must see the secret's own ARN, without the suffix.
    MCPGW_SIGNING_KEY = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/keys-MnOpQr:signing::"
  }
}

# ---------------------------------------------------------------------------------------------
# Created once, then re-planned by the runs below.

run "create" {
  command = apply

  override_resource {
    target = aws_iam_role.execution
    values = { arn = "arn:aws:iam::123456789012:role/mcpgw-exec-1", name = "mcpgw-exec-1" }
  }
  override_resource {
    target = aws_iam_role.task
    values = { arn = "arn:aws:iam::123456789012:role/mcpgw-task-1", name = "mcpgw-task-1" }
  }
  override_resource {
    target = aws_ecs_task_definition.this
    values = { arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/mcpgw:1" }
  }

  variables {
    desired_count = 2
  }

  assert {
    condition     = aws_ecs_task_definition.this.execution_role_arn != aws_ecs_task_definition.this.task_role_arn
    error_message = "The execution role and the task role must be two different roles."
  }

  assert {
    condition     = aws_ecs_task_definition.this.task_role_arn == aws_iam_role.task.arn && aws_ecs_task_definition.this.execution_role_arn == aws_iam_role.execution.arn
    error_message = "The task definition must use this module's execution and task roles."
  }

  assert {
    condition     = aws_ecs_service.this.desired_count == 2
    error_message = "The service must start with desired_count tasks."
  }
}

run "desired_count_is_ignored_after_creation" {
  command = plan

  variables {
    desired_count = 7
  }

  assert {
    condition     = aws_ecs_service.this.desired_count == 2
    error_message = "desired_count must be ignored after creation (autoscaling owns it): a re-apply would reset the task count."
  }
}

# ---------------------------------------------------------------------------------------------
# Task size

run "default_task_size_is_smallest" {
  command = plan

  assert {
    condition     = aws_ecs_task_definition.this.cpu == "256" && aws_ecs_task_definition.this.memory == "512"
    error_message = "The default task size must be 256 CPU / 512 MiB."
  }

  assert {
    condition     = aws_ecs_task_definition.this.requires_compatibilities == toset(["FARGATE"]) && aws_ecs_task_definition.this.network_mode == "awsvpc"
    error_message = "The task definition must be a Fargate (awsvpc) one."
  }
}

run "invalid_cpu_memory_pair_is_refused" {
  command = plan

  variables {
    cpu    = 256
    memory = 4096
  }

  expect_failures = [var.memory]
}

run "memory_off_the_8192_step_is_refused" {
  command = plan

  variables {
    cpu    = 8192
    memory = 17408
  }

  expect_failures = [var.memory]
}

run "cpu_not_a_fargate_size_is_refused" {
  command = plan

  variables {
    cpu = 300
  }

  expect_failures = [var.cpu]
}

run "valid_larger_pairs_are_accepted" {
  command = plan

  variables {
    cpu    = 8192
    memory = 20480
  }

  assert {
    condition     = aws_ecs_task_definition.this.cpu == "8192" && aws_ecs_task_definition.this.memory == "20480"
    error_message = "cpu 8192 with 20480 MiB is a valid Fargate size and must be accepted."
  }
}

# ---------------------------------------------------------------------------------------------
# The container

run "container_hardening" {
  command = plan

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].readonlyRootFilesystem == true
    error_message = "The root filesystem must be read-only."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].privileged == false
    error_message = "The container must not be privileged."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].user == "10001:10001"
    error_message = "The container must run as the image's non-root user 10001:10001."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].linuxParameters.capabilities.drop == ["ALL"] && length(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].linuxParameters.capabilities.add) == 0
    error_message = "The container must drop all capabilities and add none."
  }

  assert {
    condition     = toset([for m in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].mountPoints : "${m.sourceVolume}:${m.containerPath}:${m.readOnly}"]) == toset(["run-mcpgw:/run/mcpgw:false", "tmp:/tmp:false"])
    error_message = "The only writable mounts must be /run/mcpgw and /tmp."
  }

  assert {
    condition     = toset([for v in aws_ecs_task_definition.this.volume : v.name]) == toset(["run-mcpgw", "tmp"]) && alltrue([for v in aws_ecs_task_definition.this.volume : v.host_path == null])
    error_message = "The task must define the run-mcpgw and tmp volumes as task-level ephemeral storage (no host path)."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].portMappings[0].containerPort == 8080 && jsondecode(aws_ecs_task_definition.this.container_definitions)[0].essential == true
    error_message = "The container must be essential and expose the container port."
  }
}

run "container_health_check_has_every_field" {
  command = plan

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].healthCheck.command == ["CMD", "/usr/local/bin/mcpgw-entrypoint", "--health"]
    error_message = "The container health check must run the image's entrypoint with --health."
  }

  assert {
    condition = alltrue([
      for f in ["interval", "timeout", "retries", "startPeriod"] :
      try(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].healthCheck[f] > 0, false)
    ])
    error_message = "The container health check must set interval, timeout, retries and startPeriod."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].healthCheck.timeout < jsondecode(aws_ecs_task_definition.this.container_definitions)[0].healthCheck.interval
    error_message = "The health check timeout must be shorter than its interval."
  }
}

run "container_health_check_timeout_not_below_interval_is_refused" {
  command = plan

  variables {
    container_health_check = { interval = 10, timeout = 10, retries = 3, start_period = 30 }
  }

  expect_failures = [var.container_health_check]
}

run "logs_go_to_a_log_group_with_retention" {
  command = plan

  assert {
    condition     = aws_cloudwatch_log_group.this.retention_in_days == 30
    error_message = "The log group must have a retention (30 days by default)."
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].logConfiguration.logDriver == "awslogs" &&
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].logConfiguration.options["awslogs-group"] == aws_cloudwatch_log_group.this.name &&
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].logConfiguration.options["awslogs-region"] == "eu-west-1"
    )
    error_message = "The container must log with awslogs to the module's log group in the service's region."
  }
}

run "log_group_encrypted_when_a_key_is_given" {
  command = plan

  variables {
    log_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.kms_key_id == var.log_kms_key_arn
    error_message = "The log group must be encrypted with the given key."
  }
}

run "environment_the_gateway_reads" {
  command = plan

  assert {
    condition = {
      for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.name => e.value
      if contains(["AWS_REGION", "MCPGW_STORE", "MCPGW_BIND", "MCPGW_PORT", "MCPGW_ALLOWED_ORIGINS", "MCPGW_UPSTREAMS_JSON"], e.name)
      } == {
      AWS_REGION            = "eu-west-1"
      MCPGW_STORE           = "dynamodb:mcpgw-sessions"
      MCPGW_BIND            = "0.0.0.0"
      MCPGW_PORT            = "8080"
      MCPGW_ALLOWED_ORIGINS = ""
      MCPGW_UPSTREAMS_JSON  = "{\"separator\":\"__\",\"upstreams\":[]}"
    }
    error_message = "The container environment must carry the gateway's AWS settings (the names worker/config.c reads)."
  }

  assert {
    condition     = toset([for s in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].secrets : "${s.name}=${s.valueFrom}"]) == toset([for k, v in var.secrets : "${k}=${v}"])
    error_message = "The three secrets must come from Secrets Manager through the task definition's secrets."
  }
}

# Passed for Google sign-in, which the gateway does not implement yet (docs/DEPLOY.md, Status):
# checked here so that the names stay as the sign-in work will read them.
run "settings_reserved_for_sign_in" {
  command = plan

  assert {
    condition = {
      for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.name => e.value
      if contains(["MCPGW_KMS_KEY_ID", "MCPGW_ALLOWED_EMAIL_DOMAINS", "MCPGW_PUBLIC_URL"], e.name)
      } == {
      MCPGW_KMS_KEY_ID            = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
      MCPGW_ALLOWED_EMAIL_DOMAINS = "example.com,example.org"
      MCPGW_PUBLIC_URL            = "https://mcp.example.com"
    }
    error_message = "The sign-in settings must reach the container under their MCPGW_* names."
  }
}

run "upstreams_become_mcpgw_upstreams_json" {
  command = plan

  variables {
    upstream_separator = "."
    upstreams = [
      { name = "github", url = "https://mcp.example.com/github/mcp", headers = { Authorization = "Bearer $${GITHUB_MCP_TOKEN}", X-Client = "mcpgw" } },
      { name = "docs", url = "http://docs.internal:8000/mcp", timeout_ms = 5000 },
    ]
    allowed_origins = ["https://app.example.com", "https://claude.example.org"]
  }

  assert {
    condition = jsondecode(one([for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.value if e.name == "MCPGW_UPSTREAMS_JSON"])) == {
      separator = "."
      upstreams = [
        { name = "github", url = "https://mcp.example.com/github/mcp", headers = { Authorization = "Bearer $${GITHUB_MCP_TOKEN}", X-Client = "mcpgw" } },
        { name = "docs", url = "http://docs.internal:8000/mcp", timeout_ms = 5000 },
      ]
    }
    error_message = "MCPGW_UPSTREAMS_JSON must hold the upstreams document, without null keys (the gateway refuses unknown or null ones)."
  }

  assert {
    condition     = one([for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.value if e.name == "MCPGW_ALLOWED_ORIGINS"]) == "https://app.example.com,https://claude.example.org"
    error_message = "allowed_origins must reach the gateway comma-separated."
  }
}

run "credential_header_written_in_clear_is_refused" {
  command = plan

  variables {
    upstreams = [{ name = "github", url = "https://mcp.example.com/mcp", headers = { Authorization = "Bearer ghp_plaintext" } }]
  }

  expect_failures = [var.upstreams]
}

run "upstream_name_rules_are_checked_at_plan" {
  command = plan

  variables {
    upstreams = [
      { name = "a b", url = "https://a.example.com/mcp" },
      { name = "a b", url = "ftp://a.example.com/mcp" },
    ]
  }

  expect_failures = [var.upstreams]
}

run "upstream_name_holding_the_separator_is_refused" {
  command = plan

  variables {
    upstreams = [{ name = "git__hub", url = "https://a.example.com/mcp" }]
  }

  expect_failures = [var.upstream_separator]
}

run "overriding_upstreams_through_environment_is_refused" {
  command = plan

  variables {
    environment = { MCPGW_UPSTREAMS_JSON = "{}" }
  }

  expect_failures = [var.environment]
}

run "old_task_definitions_stay_for_rollback" {
  command = plan

  assert {
    condition     = aws_ecs_task_definition.this.skip_destroy == true
    error_message = "Replaced task definition revisions must stay ACTIVE, or a rollback to one cannot start it."
  }
}

run "keepalive_outlasts_alb_idle_timeout" {
  command = plan

  variables {
    alb_idle_timeout = 300
  }

  assert {
    condition     = tonumber(one([for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.value if e.name == "MCPGW_KEEPALIVE_IDLE"])) > var.alb_idle_timeout
    error_message = "lighttpd's keep-alive idle (MCPGW_KEEPALIVE_IDLE) must be longer than the ALB idle timeout, or clients see 502s."
  }

  assert {
    condition     = output.keepalive_idle == 305
    error_message = "MCPGW_KEEPALIVE_IDLE must be the ALB idle timeout + 5 by default."
  }
}

run "no_plaintext_secret_in_environment" {
  command = plan

  assert {
    condition = alltrue([
      for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment :
      !contains(keys(var.secrets), e.name) && !can(regex("(?i)(SECRET|PASSWORD|TOKEN|PRIVATE_KEY|SIGNING_KEY|CLIENT_ID)", e.name))
    ])
    error_message = "No secret may be passed as a plain environment variable."
  }

  assert {
    condition     = length(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].secrets) == 3
    error_message = "The three secrets must all be in the task definition's secrets."
  }
}

run "secret_in_environment_is_refused" {
  command = plan

  variables {
    environment = { MCPGW_SIGNING_KEY = "hunter2" }
  }

  expect_failures = [var.environment]
}

run "overriding_managed_environment_is_refused" {
  command = plan

  variables {
    environment = { MCPGW_BIND = "127.0.0.1" }
  }

  expect_failures = [var.environment]
}

run "secret_value_that_is_not_an_arn_is_refused" {
  command = plan

  variables {
    secrets = { MCPGW_SIGNING_KEY = "not-an-arn-but-the-key-itself" }
  }

  expect_failures = [var.secrets]
}

# A partial ARN (no -XXXXXX suffix) works for ECS but not for the exact-ARN IAM grant.
run "partial_secret_arn_is_refused" {
  command = plan

  variables {
    secrets = { MCPGW_SIGNING_KEY = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/signing-key" }
  }

  expect_failures = [var.secrets]
}

run "json_key_suffix_without_its_three_fields_is_refused" {
  command = plan

  variables {
    secrets = { MCPGW_SIGNING_KEY = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/keys-MnOpQr:signing" }
  }

  expect_failures = [var.secrets]
}

run "secret_in_another_region_is_refused" {
  command = plan

  variables {
    secrets = { MCPGW_SIGNING_KEY = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mcpgw/signing-key-MnOpQr" }
  }

  expect_failures = [aws_ecs_task_definition.this]
}

run "secrets_key_in_another_region_is_refused" {
  command = plan

  variables {
    secrets_kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/99999999-8888-7777-6666-555555555555"
  }

  expect_failures = [aws_ecs_task_definition.this]
}

# ---------------------------------------------------------------------------------------------
# Stopping. A deployment or scale-in deregisters the task, waits alb_deregistration_delay while
# it finishes its requests, then sends SIGTERM; the container then drains (drain_delay),
# stops lighttpd (stop_budget - drain_delay - 3 s at most) and the pool, within stop_budget, and
# ECS kills it at stopTimeout.

run "stop_settings_reach_the_container" {
  command = plan

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].stopTimeout > tonumber(one([for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.value if e.name == "MCPGW_STOP_BUDGET"]))
    error_message = "stopTimeout must be longer than MCPGW_STOP_BUDGET, or ECS kills the container mid-drain."
  }

  assert {
    condition = merge({ stopTimeout = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].stopTimeout }, {
      for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.name => e.value
      if contains(["MCPGW_DRAIN_DELAY", "MCPGW_STOP_BUDGET", "MCPGW_REQUEST_TIMEOUT"], e.name)
      }) == {
      stopTimeout           = 75
      MCPGW_DRAIN_DELAY     = "5"
      MCPGW_STOP_BUDGET     = "70"
      MCPGW_REQUEST_TIMEOUT = "60"
    }
    error_message = "The defaults must reach the container: stopTimeout 75, MCPGW_DRAIN_DELAY 5, MCPGW_STOP_BUDGET 70 (5 drain + 62 for lighttpd, more than the 60 s request timeout, + 3 for the pool), MCPGW_REQUEST_TIMEOUT 60."
  }
}

run "longer_requests_need_a_longer_deregistration_delay" {
  command = plan

  variables {
    request_timeout          = 120
    alb_deregistration_delay = 300
  }

  # No upper bound ties the deregistration delay to the stop budget: the task keeps running
  # (and serving its requests in flight) for the whole delay, before SIGTERM.
  assert {
    condition     = one([for e in jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment : e.value if e.name == "MCPGW_REQUEST_TIMEOUT"]) == "120"
    error_message = "request_timeout must reach the container as MCPGW_REQUEST_TIMEOUT."
  }
}

run "deregistration_delay_not_longer_than_request_timeout_is_refused" {
  command = plan

  variables {
    alb_deregistration_delay = 60
  }

  expect_failures = [var.alb_deregistration_delay]
}

run "deregistration_delay_under_a_raised_request_timeout_is_refused" {
  command = plan

  variables {
    request_timeout = 90
  }

  expect_failures = [var.alb_deregistration_delay]
}

run "request_timeout_zero_is_refused" {
  command = plan

  variables {
    request_timeout = 0
  }

  expect_failures = [var.request_timeout]
}

run "request_timeout_within_an_upstream_time_limit_is_refused" {
  command = plan

  variables {
    upstreams = [{ name = "slow", url = "https://slow.example.com/mcp", timeout_ms = 60000 }]
  }

  expect_failures = [var.request_timeout]
}

run "request_timeout_within_the_default_upstream_time_limit_is_refused" {
  command = plan

  variables {
    environment              = { MCPGW_UPSTREAM_TIMEOUT_MS = "90000" }
    request_timeout          = 60
    alb_deregistration_delay = 65
  }

  expect_failures = [var.request_timeout]
}

run "request_timeout_through_environment_is_refused" {
  command = plan

  variables {
    environment = { MCPGW_REQUEST_TIMEOUT = "600" }
  }

  expect_failures = [var.environment]
}

run "stop_budget_without_room_for_the_pool_is_refused" {
  command = plan

  variables {
    stop_budget = 8 # 5 s drain + 3 s for the pool leaves lighttpd no time
  }

  expect_failures = [var.stop_budget]
}

run "stop_timeout_not_above_budget_is_refused" {
  command = plan

  variables {
    stop_timeout = 70
  }

  expect_failures = [var.stop_timeout]
}

run "stop_timeout_above_fargate_maximum_is_refused" {
  command = plan

  variables {
    stop_budget  = 60
    stop_timeout = 121
  }

  expect_failures = [var.stop_timeout]
}

# ---------------------------------------------------------------------------------------------
# Redeploying the same task definition (rotated secrets).

run "no_redeploy_trigger_no_forced_deployment" {
  command = plan

  assert {
    condition     = aws_ecs_service.this.force_new_deployment == false && length(aws_ecs_service.this.triggers) == 0
    error_message = "Without redeploy_trigger the service must neither force a deployment nor carry a trigger."
  }
}

run "redeploy_trigger_forces_a_deployment" {
  command = plan

  variables {
    redeploy_trigger = "2025-06-01 rotated signing key"
  }

  assert {
    condition     = aws_ecs_service.this.force_new_deployment == true && aws_ecs_service.this.triggers == tomap({ redeploy = "2025-06-01 rotated signing key" })
    error_message = "A redeploy_trigger must reach the service's triggers with force_new_deployment, so that changing it redeploys and keeping it changes nothing."
  }
}

# ---------------------------------------------------------------------------------------------
# Service, cluster and network

run "service_on_fargate_latest_without_public_ip" {
  command = plan

  assert {
    condition     = aws_ecs_service.this.launch_type == "FARGATE" && aws_ecs_service.this.platform_version == "LATEST"
    error_message = "The service must run on Fargate, platform version LATEST."
  }

  assert {
    condition     = aws_ecs_service.this.network_configuration[0].assign_public_ip == false
    error_message = "Tasks must not get a public IP."
  }

  assert {
    condition     = aws_ecs_service.this.network_configuration[0].subnets == toset(var.private_subnet_ids)
    error_message = "Tasks must run in the private subnets."
  }

  assert {
    condition     = aws_ecs_service.this.deployment_circuit_breaker[0].enable && aws_ecs_service.this.deployment_circuit_breaker[0].rollback
    error_message = "Deployments must use the circuit breaker with rollback."
  }

  assert {
    condition     = aws_ecs_service.this.deployment_minimum_healthy_percent == 100 && aws_ecs_service.this.deployment_maximum_percent == 200
    error_message = "Deployments must keep 100% healthy and allow 200%."
  }

  assert {
    condition     = aws_ecs_service.this.health_check_grace_period_seconds == 60
    error_message = "The service must have a health-check grace period."
  }

  assert {
    condition = (
      one(aws_ecs_service.this.load_balancer).target_group_arn == var.target_group_arn &&
      one(aws_ecs_service.this.load_balancer).container_port == 8080 &&
      one(aws_ecs_service.this.load_balancer).container_name == "mcpgw"
    )
    error_message = "The service must register the container port in the ALB target group."
  }

  assert {
    condition     = aws_ecs_service.this.enable_execute_command == false
    error_message = "ECS Exec must be off."
  }
}

run "container_insights_on" {
  command = plan

  assert {
    condition     = one([for s in aws_ecs_cluster.this.setting : s.value if s.name == "containerInsights"]) == "enabled"
    error_message = "Container Insights must be enabled on the cluster."
  }
}

run "container_insights_cannot_be_disabled" {
  command = plan

  variables {
    container_insights = "disabled"
  }

  expect_failures = [var.container_insights]
}

run "ingress_only_from_the_alb_security_group" {
  command = plan

  assert {
    condition     = aws_vpc_security_group_ingress_rule.from_alb.referenced_security_group_id == var.alb_security_group_id && output.ingress_source_security_group_id == var.alb_security_group_id
    error_message = "The tasks must accept connections only from the ALB's security group (and say so in ingress_source_security_group_id)."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.from_alb.cidr_ipv4 == null && aws_vpc_security_group_ingress_rule.from_alb.cidr_ipv6 == null && aws_vpc_security_group_ingress_rule.from_alb.prefix_list_id == null
    error_message = "The tasks' ingress must not be open to any address range."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.from_alb.from_port == 8080 && aws_vpc_security_group_ingress_rule.from_alb.to_port == 8080 && aws_vpc_security_group_ingress_rule.from_alb.ip_protocol == "tcp"
    error_message = "The tasks' ingress must be the container port only."
  }
}

# ---------------------------------------------------------------------------------------------
# IAM: exact resources, no wildcard where an ARN is known.

run "execution_role_reads_exactly_the_given_secrets" {
  command = plan

  assert {
    condition = one([
      for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Resource
      if contains(s.Action, "secretsmanager:GetSecretValue")
      ]) == [
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/google-client-id-AbCdEf",
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/google-client-secret-GhIjKl",
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/keys-MnOpQr",
    ]
    error_message = "secretsmanager:GetSecretValue must be granted on exactly the given secret ARNs (JSON-key suffix removed)."
  }

  assert {
    condition     = length([for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s if anytrue([for a in s.Action : startswith(a, "secretsmanager:")])]) == 1
    error_message = "Only one statement may grant Secrets Manager access."
  }

  assert {
    condition = one([
      for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s
      if contains(s.Action, "kms:Decrypt")
      ]) == {
      Sid       = "DecryptTaskSecrets"
      Effect    = "Allow"
      Action    = ["kms:Decrypt"]
      Resource  = ["arn:aws:kms:eu-west-1:123456789012:key/99999999-8888-7777-6666-555555555555"]
      Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.eu-west-1.amazonaws.com" } }
    }
    error_message = "kms:Decrypt must be granted on exactly the secrets' key, through Secrets Manager only."
  }

  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Resource if contains(s.Action, "ecr:BatchGetImage")]) == ["arn:aws:ecr:eu-west-1:123456789012:repository/mcpgw"]
    error_message = "Image pull must be granted on exactly the image's ECR repository."
  }

  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Resource if contains(s.Action, "logs:PutLogEvents")]) == ["arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/mcpgw:log-stream:*"]
    error_message = "Log writing must be granted on exactly the service's log group."
  }
}

run "no_wildcard_where_an_arn_is_known" {
  command = plan

  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.execution.policy).Statement :
      s.Action == ["ecr:GetAuthorizationToken"] || !contains(flatten([s.Resource]), "*")
    ])
    error_message = "The execution role may use Resource \"*\" only for ecr:GetAuthorizationToken (which has no ARN)."
  }

  assert {
    condition     = alltrue([for s in jsondecode(aws_iam_role_policy.task.policy).Statement : !contains(flatten([s.Resource]), "*")])
    error_message = "The task role must name its resources."
  }

  assert {
    condition = alltrue(flatten([
      for p in [aws_iam_role_policy.execution.policy, aws_iam_role_policy.task.policy] : [
        for s in jsondecode(p).Statement : [for a in flatten([s.Action]) : !endswith(a, "*")]
      ]
    ]))
    error_message = "No IAM action may be a wildcard."
  }
}

run "task_role_uses_exactly_the_table_and_the_key" {
  command = plan

  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.task.policy).Statement : s.Resource if anytrue([for a in s.Action : startswith(a, "dynamodb:")])]) == [var.sessions_table_arn]
    error_message = "DynamoDB access must be on exactly the sessions table."
  }

  assert {
    condition     = toset(one([for s in jsondecode(aws_iam_role_policy.task.policy).Statement : s.Action if anytrue([for a in s.Action : startswith(a, "dynamodb:")])])) == toset(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"])
    error_message = "The task role may use exactly the item actions the DynamoDB store calls: GetItem, PutItem, DeleteItem."
  }

  assert {
    condition     = one([for s in jsondecode(aws_iam_role_policy.task.policy).Statement : s.Resource if anytrue([for a in s.Action : startswith(a, "kms:")])]) == [var.app_kms_key_arn]
    error_message = "KMS access must be on exactly the app key."
  }

  assert {
    condition     = length([for s in jsondecode(aws_iam_role_policy.task.policy).Statement : s if anytrue([for a in s.Action : startswith(a, "secretsmanager:")])]) == 0
    error_message = "The task role must not read secrets: that is the execution role's job."
  }

  assert {
    condition     = jsondecode(aws_iam_role.task.assume_role_policy).Statement[0].Condition.StringEquals["aws:SourceAccount"] == "123456789012"
    error_message = "The task role's trust policy must be limited to this account's ECS tasks."
  }
}

run "image_outside_ecr_gets_no_ecr_permissions" {
  command = plan

  variables {
    image = "public.ecr.aws/example/mcpgw:1.0.0"
  }

  assert {
    condition     = length([for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s if anytrue([for a in s.Action : startswith(a, "ecr:")])]) == 0
    error_message = "An image from outside private ECR needs no ECR permissions."
  }
}

run "worker_image_tag_replaces_the_tag" {
  command = plan

  variables {
    worker_image_tag = "1.2.3"
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].image == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mcpgw:1.2.3"
    error_message = "worker_image_tag must replace the image's tag."
  }
}

run "worker_image_digest_replaces_the_tag" {
  command = plan

  variables {
    image            = "registry.example.com:5000/team/mcpgw"
    worker_image_tag = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  }

  assert {
    condition     = output.image == "registry.example.com:5000/team/mcpgw@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    error_message = "A digest must be appended with @, and a registry port left alone."
  }
}
