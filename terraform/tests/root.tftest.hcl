# Offline tests of the whole deployment (mock AWS provider): the modules wired together the way
# `terraform apply` builds them, and the root's own plan-time checks.

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = { names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"] }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }

  # Computed ARNs that other resources validate at apply.
  mock_resource "aws_kms_key" {
    defaults = {
      arn    = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
      key_id = "11111111-2222-3333-4444-555555555555"
    }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/mcpgw-sessions" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mcpgw-flowlogs-1" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/mcpgw" }
  }
  mock_resource "aws_lb" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/mcpgw/0123456789abcdef"
      arn_suffix = "app/mcpgw/0123456789abcdef"
      dns_name   = "mcpgw-1234567890.eu-west-1.elb.amazonaws.com"
      zone_id    = "Z32O12XQLNTSW2"
    }
  }
  mock_resource "aws_lb_target_group" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/mcpgw2024/fedcba9876543210"
      arn_suffix = "targetgroup/mcpgw2024/fedcba9876543210"
    }
  }
  mock_resource "aws_lb_listener" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/mcpgw/0123456789abcdef/0011223344556677" }
  }
  mock_resource "aws_lb_listener_rule" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/mcpgw/0123456789abcdef/0011223344556677/8899aabbccddeeff" }
  }
  mock_resource "aws_ecs_cluster" {
    defaults = {
      arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/mcpgw"
      id  = "arn:aws:ecs:eu-west-1:123456789012:cluster/mcpgw"
    }
  }
  mock_resource "aws_ecs_task_definition" {
    defaults = { arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/mcpgw:1" }
  }
  mock_resource "aws_ecs_service" {
    defaults = { id = "arn:aws:ecs:eu-west-1:123456789012:service/mcpgw/mcpgw" }
  }
  mock_resource "aws_appautoscaling_policy" {
    defaults = { arn = "arn:aws:autoscaling:eu-west-1:123456789012:scalingPolicy:00000000-0000-0000-0000-000000000000:resource/ecs/service/mcpgw/mcpgw:policyName/p" }
  }
  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:eu-west-1:123456789012:repository/mcpgw"
      repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mcpgw"
    }
  }
}

variables {
  region                          = "eu-west-1"
  domain_name                     = "mcp.example.com"
  certificate_arn                 = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-1111-2222-3333-444444444444"
  image                           = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mcpgw:1.0.0"
  google_client_id_secret_arn     = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/google-client-id-AbCdEf"
  google_client_secret_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/google-client-secret-GhIjKl"
  signing_key_secret_arn          = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/signing-key-MnOpQr"
  allowed_email_domains           = ["example.com"]
  alb_ingress_cidr_blocks         = ["203.0.113.0/24"]
}

run "apply_builds_the_gateway" {
  command = apply

  override_resource {
    target = module.service.aws_iam_role.execution
    values = { arn = "arn:aws:iam::123456789012:role/mcpgw-exec-1" }
  }
  override_resource {
    target = module.service.aws_iam_role.task
    values = { arn = "arn:aws:iam::123456789012:role/mcpgw-task-1" }
  }

  assert {
    condition     = output.mcp_url == "https://mcp.example.com/mcp"
    error_message = "The MCP URL must be https://<domain>/mcp."
  }

  assert {
    condition     = output.alb_dns_name == "mcpgw-1234567890.eu-west-1.elb.amazonaws.com" && output.log_group_name == "/ecs/mcpgw"
    error_message = "The root must output the ALB's DNS name and the log group."
  }

  assert {
    condition     = output.service_arn == "arn:aws:ecs:eu-west-1:123456789012:service/mcpgw/mcpgw"
    error_message = "The root must output the service ARN."
  }

  # The service's dependency on this rule (the only thing attaching its target group to the
  # load balancer) cannot be seen from a test; tests/terraform/run.sh checks it in
  # `terraform graph`.
  assert {
    condition     = module.alb.public_rule_arn == "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/mcpgw/0123456789abcdef/0011223344556677/8899aabbccddeeff"
    error_message = "The deployment must include the HTTPS listener's forwarding rule."
  }

  assert {
    condition     = output.alb_public_paths == tolist(["/.well-known/*", "/mcp"])
    error_message = "By default the ALB must forward exactly /mcp and /.well-known/* (not /health, /ready or /status)."
  }

  assert {
    condition     = module.service.execution_role_arn != module.service.task_role_arn
    error_message = "The execution role and the task role must differ."
  }

  assert {
    condition     = output.kms_key_arn == "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    error_message = "The data module must hand its key ARN to the root."
  }

  assert {
    condition     = module.autoscaling.min_capacity == 2 && module.autoscaling.max_capacity == 10 && module.service.desired_count == 2
    error_message = "The default bounds are 2 to 10 tasks, and the service starts with min_capacity."
  }

  assert {
    condition     = module.service.keepalive_idle > module.alb.idle_timeout
    error_message = "lighttpd's keep-alive idle must exceed the ALB idle timeout."
  }

  # Read from what was built: the target group's delay and the container definition.
  assert {
    condition     = module.alb.deregistration_delay == 65 && module.alb.deregistration_delay > tonumber(one([for e in jsondecode(output.task_definition_container_definitions)[0].environment : e.value if e.name == "MCPGW_REQUEST_TIMEOUT"]))
    error_message = "The target group's deregistration delay (65 s) must outlast the container's MCPGW_REQUEST_TIMEOUT: ECS sends SIGTERM only after it, on deployments and scale-ins."
  }

  assert {
    condition = (
      jsondecode(output.task_definition_container_definitions)[0].stopTimeout == 75 &&
      tonumber(one([for e in jsondecode(output.task_definition_container_definitions)[0].environment : e.value if e.name == "MCPGW_STOP_BUDGET"])) == 70 &&
      tonumber(one([for e in jsondecode(output.task_definition_container_definitions)[0].environment : e.value if e.name == "MCPGW_DRAIN_DELAY"])) == 5
    )
    error_message = "The container must get stopTimeout 75 > MCPGW_STOP_BUDGET 70 >= MCPGW_DRAIN_DELAY 5 + MCPGW_REQUEST_TIMEOUT 60 + 3 for the pool, so a request in flight survives a stop without deregistration."
  }

  assert {
    condition     = module.service.ingress_source_security_group_id == module.alb.security_group_id && module.alb.security_group_id != module.service.security_group_id
    error_message = "The tasks' ingress rule must admit the ALB's security group (and not, say, the tasks' own)."
  }

  assert {
    condition     = module.network.flow_log_group_kms_key_arn == output.kms_key_arn
    error_message = "The VPC flow-log group must be encrypted with the gateway's KMS key (encrypt_logs)."
  }

  assert {
    condition     = output.image == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mcpgw:1.0.0" && output.ecr_repository_url == null
    error_message = "Without create_ecr_repository the given image runs as is."
  }
}

run "worker_image_tag_rolls_only_the_image" {
  command = plan

  variables {
    worker_image_tag = "1.1.0"
  }

  assert {
    condition     = output.image == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mcpgw:1.1.0" && jsondecode(output.task_definition_container_definitions)[0].image == output.image
    error_message = "worker_image_tag must select the tag the container runs."
  }

  # Against what the first run built: everything in the container definition but the image.
  assert {
    condition = {
      for k, v in jsondecode(output.task_definition_container_definitions)[0] : k => v if k != "image"
      } == {
      for k, v in jsondecode(run.apply_builds_the_gateway.task_definition_container_definitions)[0] : k => v if k != "image"
    }
    error_message = "Changing worker_image_tag must change nothing in the container definition but the image (environment, secrets, health check, stop settings, ...)."
  }
}

# The service was created with 2 tasks (min_capacity then); Terraform ignores its desired count
# from then on. New bounds on both sides of it must reach the scalable target as given: clamping
# them to the running count would give 2 here.
run "bounds_below_the_running_count_are_not_clamped" {
  command = plan

  variables {
    min_capacity = 1
    max_capacity = 1
  }

  assert {
    condition     = module.service.desired_count == 2
    error_message = "Precondition of this test: the service keeps the desired count it was created with (2)."
  }

  assert {
    condition     = module.autoscaling.min_capacity == 1 && module.autoscaling.max_capacity == 1
    error_message = "min_capacity and max_capacity below the service's desired count must reach the scalable target unchanged."
  }
}

run "bounds_above_the_running_count_are_not_clamped" {
  command = plan

  variables {
    min_capacity = 3
    max_capacity = 4
  }

  assert {
    condition     = module.service.desired_count == 2 && module.autoscaling.min_capacity == 3 && module.autoscaling.max_capacity == 4
    error_message = "min_capacity and max_capacity above the service's desired count must reach the scalable target unchanged."
  }
}

run "ecr_repository_option" {
  command = apply

  override_resource {
    target = module.service.aws_iam_role.execution
    values = { arn = "arn:aws:iam::123456789012:role/mcpgw-exec-1" }
  }
  override_resource {
    target = module.service.aws_iam_role.task
    values = { arn = "arn:aws:iam::123456789012:role/mcpgw-task-1" }
  }

  variables {
    image                 = null
    create_ecr_repository = true
    worker_image_tag      = "2.0.0"
    ecr_force_delete      = true
  }

  assert {
    condition     = output.image == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mcpgw:2.0.0"
    error_message = "With create_ecr_repository, the image comes from the new repository at worker_image_tag."
  }

  assert {
    condition     = output.ecr_repository_url == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mcpgw"
    error_message = "The root must output the repository URL."
  }

  assert {
    condition     = module.ecr[0].force_delete == true
    error_message = "ecr_force_delete must reach the repository."
  }
}

run "alb_public_paths_reach_the_rule" {
  command = plan

  variables {
    alb_public_paths = ["/mcp", "/.well-known/*", "/authorize", "/token"]
  }

  assert {
    condition     = output.alb_public_paths == tolist(["/.well-known/*", "/authorize", "/mcp", "/token"])
    error_message = "alb_public_paths must reach the ALB's forwarding rule as given."
  }
}

run "route53_alias_when_a_zone_is_given" {
  command = plan

  variables {
    route53_zone_id = "Z0123456789ABCDEFGHIJ"
  }

  assert {
    condition     = aws_route53_record.gateway[0].name == "mcp.example.com" && aws_route53_record.gateway[0].type == "A" && one(aws_route53_record.gateway[0].alias).zone_id == "Z32O12XQLNTSW2"
    error_message = "With a hosted zone, the domain must become an alias of the ALB."
  }
}

# ---------------------------------------------------------------------------------------------
# Refused at plan, with the root's variable names.

run "invalid_cpu_memory_pair_is_refused" {
  command = plan

  variables {
    task_cpu    = 256
    task_memory = 4096
  }

  expect_failures = [var.task_memory]
}

run "valid_pair_is_accepted" {
  command = plan

  variables {
    task_cpu    = 512
    task_memory = 2048
  }

  assert {
    condition     = output.mcp_url == "https://mcp.example.com/mcp"
    error_message = "512 CPU / 2048 MiB is valid and must plan."
  }
}

run "stop_timeout_within_budget_is_refused" {
  command = plan

  variables {
    stop_timeout = 70
  }

  expect_failures = [var.stop_timeout]
}

run "deregistration_delay_not_longer_than_request_timeout_is_refused" {
  command = plan

  variables {
    deregistration_delay = 60
  }

  expect_failures = [var.deregistration_delay]
}

run "long_deregistration_delay_is_accepted" {
  command = plan

  variables {
    request_timeout      = 240
    deregistration_delay = 300
  }

  assert {
    condition     = module.alb.deregistration_delay == 300 && one([for e in jsondecode(output.task_definition_container_definitions)[0].environment : e.value if e.name == "MCPGW_REQUEST_TIMEOUT"]) == "240"
    error_message = "A deregistration delay longer than the stop budget is right when requests run that long: nothing bounds it by stop_budget."
  }
}

run "request_timeout_within_an_upstream_time_limit_is_refused" {
  command = plan

  variables {
    upstreams = [{ name = "slow", url = "https://slow.example.com/mcp", timeout_ms = 90000 }]
  }

  expect_failures = [var.request_timeout]
}

run "stop_budget_without_room_for_the_pool_is_refused" {
  command = plan

  variables {
    stop_budget = 8
  }

  expect_failures = [var.stop_budget]
}

run "max_below_min_is_refused" {
  command = plan

  variables {
    min_capacity = 4
    max_capacity = 3
  }

  expect_failures = [var.max_capacity]
}

run "no_image_and_no_repository_is_refused" {
  command = plan

  variables {
    image = null
  }

  expect_failures = [var.image]
}

run "no_nat_without_endpoints_is_refused" {
  command = plan

  variables {
    nat_gateway_mode = "none"
  }

  expect_failures = [var.enable_vpc_endpoints]
}

run "domain_with_scheme_is_refused" {
  command = plan

  variables {
    domain_name = "https://mcp.example.com"
  }

  expect_failures = [var.domain_name]
}

run "ecr_repository_without_a_tag_is_refused" {
  command = plan

  variables {
    image                 = null
    create_ecr_repository = true
  }

  expect_failures = [var.image]
}

run "alb_ingress_has_no_default" {
  command = plan

  variables {
    alb_ingress_cidr_blocks = []
  }

  expect_failures = [var.alb_ingress_cidr_blocks]
}

run "upstreams_and_their_secrets_reach_the_container" {
  command = plan

  variables {
    upstreams = [
      { name = "github", url = "https://mcp.example.com/github/mcp", headers = { Authorization = "Bearer $${GITHUB_MCP_TOKEN}" } },
      { name = "docs", url = "https://docs.example.com/mcp", timeout_ms = 5000 },
    ]
    upstream_secrets = {
      GITHUB_MCP_TOKEN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/github-mcp-token-StUvWx"
    }
    allowed_origins = ["https://app.example.com"]
  }

  assert {
    condition = jsondecode(one([for e in jsondecode(module.service.task_definition_container_definitions)[0].environment : e.value if e.name == "MCPGW_UPSTREAMS_JSON"])) == {
      separator = "__"
      upstreams = [
        { name = "github", url = "https://mcp.example.com/github/mcp", headers = { Authorization = "Bearer $${GITHUB_MCP_TOKEN}" } },
        { name = "docs", url = "https://docs.example.com/mcp", timeout_ms = 5000 },
      ]
    }
    error_message = "The upstreams must reach the container as MCPGW_UPSTREAMS_JSON, optional keys left out, the token still a reference."
  }

  assert {
    condition     = contains([for s in jsondecode(module.service.task_definition_container_definitions)[0].secrets : "${s.name}=${s.valueFrom}"], "GITHUB_MCP_TOKEN=arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/github-mcp-token-StUvWx")
    error_message = "An upstream secret must come from Secrets Manager under the name its header references."
  }

  assert {
    condition     = length(jsondecode(module.service.task_definition_container_definitions)[0].secrets) == 4
    error_message = "The container must get the three gateway secrets and the one upstream secret, nothing else."
  }

  assert {
    condition     = one([for e in jsondecode(module.service.task_definition_container_definitions)[0].environment : e.value if e.name == "MCPGW_ALLOWED_ORIGINS"]) == "https://app.example.com"
    error_message = "allowed_origins must reach the gateway as MCPGW_ALLOWED_ORIGINS."
  }
}

run "upstream_secrets_may_not_shadow_the_gateway_secrets" {
  command = plan

  variables {
    upstream_secrets = {
      MCPGW_SIGNING_KEY = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/other-AbCdEf"
    }
  }

  expect_failures = [var.upstream_secrets]
}

# ---------------------------------------------------------------------------------------------
# Secret and certificate ARNs: complete, and in the deployment's region.

run "partial_secret_arn_is_refused" {
  command = plan

  variables {
    signing_key_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/signing-key"
  }

  expect_failures = [var.signing_key_secret_arn]
}

run "secret_in_another_region_is_refused" {
  command = plan

  variables {
    google_client_id_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mcpgw/google-client-id-AbCdEf"
  }

  expect_failures = [var.google_client_id_secret_arn]
}

run "secret_json_key_is_accepted" {
  command = plan

  variables {
    google_client_secret_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/google-GhIjKl:client_secret::"
  }

  assert {
    condition     = contains([for s in jsondecode(output.task_definition_container_definitions)[0].secrets : s.valueFrom], "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/google-GhIjKl:client_secret::")
    error_message = "A complete secret ARN with a JSON key must be accepted and passed to ECS as given."
  }
}

run "partial_upstream_secret_arn_is_refused" {
  command = plan

  variables {
    upstream_secrets = {
      GITHUB_MCP_TOKEN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:mcpgw/github-mcp-token"
    }
  }

  expect_failures = [var.upstream_secrets]
}

run "upstream_secret_in_another_region_is_refused" {
  command = plan

  variables {
    upstream_secrets = {
      GITHUB_MCP_TOKEN = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:mcpgw/github-mcp-token-StUvWx"
    }
  }

  expect_failures = [var.upstream_secrets]
}

run "secrets_key_in_another_region_is_refused" {
  command = plan

  variables {
    secrets_kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/99999999-8888-7777-6666-555555555555"
  }

  expect_failures = [var.secrets_kms_key_arn]
}

run "certificate_in_another_region_is_refused" {
  command = plan

  variables {
    certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-1111-2222-3333-444444444444"
  }

  expect_failures = [var.certificate_arn]
}
