# The gateway on ECS Fargate: cluster with Container Insights, a hardened task definition (read-only
# root, non-root user, no capabilities, health check through the entrypoint, drain-aware stop), a
# service in private subnets behind the ALB, and two separate IAM roles scoped to exact ARNs.

data "aws_region" "current" {}
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  # Fargate's table of valid task sizes: cpu units -> memory MiB. The provider does not check it;
  # an invalid pair is only refused by ECS at apply, after the rest has been created.
  fargate_memory_by_cpu = {
    "256"   = [512, 1024, 2048]
    "512"   = range(1024, 4097, 1024)
    "1024"  = range(2048, 8193, 1024)
    "2048"  = range(4096, 16385, 1024)
    "4096"  = range(8192, 30721, 1024)
    "8192"  = range(16384, 61441, 4096)
    "16384" = range(32768, 122881, 8192)
  }

  # The stop sequence of the image (docs/OPERATIONS.md, "Signals"): drain_delay, then lighttpd's
  # graceful stop, which the entrypoint gives stop_budget - drain_delay - 3 s (its reserve for
  # the pool's own stop), then the pool's.  lighttpd needs at least a second of it.
  entrypoint_pool_reserve = 3

  # A complete secret ARN: the name ends in the "-" + 6 characters Secrets Manager appends, as
  # IAM needs it for an exact grant; ECS also accepts a :json-key:version-stage:version-id tail.
  secret_arn_pattern = "^arn:aws[a-zA-Z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}(:[^:]*:[^:]*:[^:]*)?$"

  region    = coalesce(var.region, data.aws_region.current.name)
  partition = data.aws_partition.current.partition
  account   = data.aws_caller_identity.current.account_id

  container_name = var.name
  log_group_name = coalesce(var.log_group_name, "/ecs/${var.name}")
  # Built from known parts (not the resource's attribute) so the policy is known at plan time.
  log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${local.log_group_name}"

  # worker_image_tag replaces the image's own tag or digest. A registry port (host:5000/repo) is
  # left alone because the pattern only matches a colon after the last slash.
  image_repository = replace(split("@", var.image)[0], "/:[^:/]+$/", "")
  image = var.worker_image_tag == null ? var.image : (
    startswith(var.worker_image_tag, "sha256:") ? "${local.image_repository}@${var.worker_image_tag}" : "${local.image_repository}:${var.worker_image_tag}"
  )
  ecr_match          = regexall("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?/(.+)$", local.image_repository)
  ecr_repository_arn = var.ecr_repository_arn != null ? var.ecr_repository_arn : (length(local.ecr_match) == 0 ? null : "arn:${local.partition}:ecr:${local.ecr_match[0][1]}:${local.ecr_match[0][0]}:repository/${local.ecr_match[0][2]}")

  keepalive_idle = var.alb_idle_timeout + var.keepalive_margin

  # The upstreams document the pool reads from MCPGW_UPSTREAMS_JSON (docs/CONFIG.md): optional
  # keys are left out rather than sent as null, since the gateway refuses what it does not know.
  upstreams_json = jsonencode({
    separator = var.upstream_separator
    upstreams = [for u in var.upstreams : merge(
      { name = u.name, url = u.url },
      length(u.headers) > 0 ? { headers = u.headers } : {},
      u.timeout_ms == null ? {} : { timeout_ms = u.timeout_ms },
    )]
  })

  managed_environment = {
    AWS_REGION                  = local.region
    MCPGW_STORE                 = "dynamodb:${var.sessions_table_name}"
    MCPGW_KMS_KEY_ID            = var.app_kms_key_arn
    MCPGW_ALLOWED_EMAIL_DOMAINS = join(",", var.allowed_email_domains)
    MCPGW_PUBLIC_URL            = var.public_url
    MCPGW_BIND                  = "0.0.0.0"
    MCPGW_PORT                  = tostring(var.container_port)
    MCPGW_KEEPALIVE_IDLE        = tostring(local.keepalive_idle)
    MCPGW_DRAIN_DELAY           = tostring(var.drain_delay)
    MCPGW_STOP_BUDGET           = tostring(var.stop_budget)
    MCPGW_REQUEST_TIMEOUT       = tostring(var.request_timeout)
    MCPGW_ALLOWED_ORIGINS       = join(",", var.allowed_origins)
    MCPGW_UPSTREAMS_JSON        = local.upstreams_json
  }
  environment = merge(var.environment, local.managed_environment)

  # A secret's ARN as IAM knows it: the first seven colon-separated fields, without any
  # :json-key:version-stage:version-id suffix the task definition may carry.
  secret_arns = sort(distinct([for v in values(var.secrets) : join(":", slice(split(":", v), 0, 7))]))

  container_definition = {
    name      = local.container_name
    image     = local.image
    essential = true

    user                   = "10001:10001"
    privileged             = false
    readonlyRootFilesystem = true
    linuxParameters = {
      capabilities       = { add = [], drop = ["ALL"] }
      initProcessEnabled = false # the image's entrypoint is PID 1 and reaps
    }

    portMappings = [{
      name          = "http"
      containerPort = var.container_port
      hostPort      = var.container_port
      protocol      = "tcp"
      appProtocol   = "http"
    }]

    environment = [for k in sort(keys(local.environment)) : { name = k, value = local.environment[k] }]
    secrets     = [for k in sort(keys(var.secrets)) : { name = k, valueFrom = var.secrets[k] }]

    mountPoints = [
      { sourceVolume = "run-mcpgw", containerPath = "/run/mcpgw", readOnly = false },
      { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
    ]
    volumesFrom = []

    healthCheck = {
      command     = ["CMD", "/usr/local/bin/mcpgw-entrypoint", "--health"]
      interval    = var.container_health_check.interval
      timeout     = var.container_health_check.timeout
      retries     = var.container_health_check.retries
      startPeriod = var.container_health_check.start_period
    }

    stopTimeout = var.stop_timeout

    ulimits = [{ name = "nofile", softLimit = 65536, hardLimit = 65536 }]

    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "mcpgw"
        mode                  = "non-blocking"
        max-buffer-size       = "4m"
      }
    }
  }
}

# ---------------------------------------------------------------------------------------------
# Cluster and logs

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = var.container_insights
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

# ---------------------------------------------------------------------------------------------
# IAM: the execution role is used by ECS to start the task (pull, logs, secrets); the task role
# is what the gateway itself runs as (DynamoDB, KMS). Neither can do the other's work.

resource "aws_iam_role" "execution" {
  name_prefix = "${substr(var.name, 0, 24)}-exec-"
  description = "ECS execution role of ${var.name}: pull the image, write logs, read its secrets"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EcsTasksAssume"
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "execution" {
  name = "start-task"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      local.ecr_repository_arn == null ? [] : [
        {
          # GetAuthorizationToken is account-wide: IAM has no resource type for it.
          Sid      = "EcrAuthorizationToken"
          Effect   = "Allow"
          Action   = ["ecr:GetAuthorizationToken"]
          Resource = ["*"]
        },
        {
          Sid      = "EcrPullImage"
          Effect   = "Allow"
          Action   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
          Resource = [local.ecr_repository_arn]
        },
      ],
      [{
        Sid      = "WriteContainerLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${local.log_group_arn}:log-stream:*"]
      }],
      length(local.secret_arns) == 0 ? [] : [{
        Sid      = "ReadTaskSecrets"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = local.secret_arns
      }],
      var.secrets_kms_key_arn == null ? [] : [{
        Sid       = "DecryptTaskSecrets"
        Effect    = "Allow"
        Action    = ["kms:Decrypt"]
        Resource  = [var.secrets_kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.${local.region}.amazonaws.com" } }
      }],
    )
  })
}

resource "aws_iam_role" "task" {
  name_prefix = "${substr(var.name, 0, 24)}-task-"
  description = "ECS task role of ${var.name}: the gateway's own access to its table and key"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EcsTasksAssume"
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account }
        ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:ecs:${local.region}:${local.account}:*" }
      }
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "task" {
  name = "gateway"
  role = aws_iam_role.task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "SessionsTableItems"
        Effect = "Allow"
        # Exactly what worker/store_dynamodb.c calls: one item at a time, no queries or scans.
        Action   = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"]
        Resource = [var.sessions_table_arn]
      },
      {
        Sid      = "AppKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
        Resource = [var.app_kms_key_arn]
      },
    ]
  })
}

# ---------------------------------------------------------------------------------------------
# Task definition

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # Task-level scratch volumes (Fargate bind mounts on the task's ephemeral storage): the root
  # filesystem is read-only, and these are the only paths the image writes to.
  volume {
    name = "run-mcpgw"
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([local.container_definition])

  # Keep earlier revisions ACTIVE when a new one replaces them, so that a rollback (the
  # deployment circuit breaker's, or update-service --task-definition <family>:<rev>) can
  # still start them. terraform destroy leaves them too (docs/DEPLOY.md, "Tearing down").
  skip_destroy = true

  tags = var.tags

  lifecycle {
    # ECS and IAM only find a secret (and its key) in the task's own region.
    precondition {
      condition     = alltrue([for v in values(var.secrets) : split(":", v)[3] == local.region])
      error_message = "Every secret must be in the service's region (${local.region}); these are not: ${join(", ", [for k, v in var.secrets : "${k} (${split(":", v)[3]})" if split(":", v)[3] != local.region])}."
    }
    precondition {
      condition     = var.secrets_kms_key_arn == null || try(split(":", var.secrets_kms_key_arn)[3] == local.region, false)
      error_message = "secrets_kms_key_arn must be a key in the service's region (${local.region})."
    }
  }
}

# ---------------------------------------------------------------------------------------------
# Network access: only the ALB may reach the container port.

resource "aws_security_group" "task" {
  name_prefix = "${substr(var.name, 0, 20)}-task-"
  description = "Tasks of ${var.name}: container port from the ALB only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-task" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "from_alb" {
  security_group_id            = aws_security_group.task.id
  description                  = "Container port from the ALB"
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  referenced_security_group_id = var.alb_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "out" {
  for_each = toset([for p in var.egress_ports : tostring(p)])

  security_group_id = aws_security_group.task.id
  description       = "Outbound TCP ${each.value}"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.value)
  to_port           = tonumber(each.value)
  cidr_ipv4         = "0.0.0.0/0"
}

# ---------------------------------------------------------------------------------------------
# Service

resource "aws_ecs_service" "this" {
  name             = var.name
  cluster          = aws_ecs_cluster.this.id
  task_definition  = aws_ecs_task_definition.this.arn
  desired_count    = var.desired_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = var.health_check_grace_period
  availability_zone_rebalancing      = "ENABLED"
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"
  enable_execute_command             = false

  deployment_controller {
    type = "ECS"
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.task.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = var.target_group_arn
    container_name   = local.container_name
    container_port   = var.container_port
  }

  force_new_deployment = var.redeploy_trigger != null
  triggers             = var.redeploy_trigger == null ? {} : { redeploy = var.redeploy_trigger }

  tags = var.tags

  lifecycle {
    # Autoscaling owns the task count after creation; re-applying must not reset it.
    ignore_changes = [desired_count]
  }

  # Tasks must not start before their roles can do their work.
  depends_on = [aws_iam_role_policy.execution, aws_iam_role_policy.task]
}
