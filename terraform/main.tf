# mcpgw on AWS: network, data (KMS key + DynamoDB sessions table), optional ECR repository, HTTPS
# ALB, the Fargate service and its autoscaling. `terraform apply` gives https://<domain>/mcp.

locals {
  # Same table as in modules/service, repeated so that a wrong pair is refused with the root's own
  # variable names in the message.
  fargate_memory_by_cpu = {
    "256"   = [512, 1024, 2048]
    "512"   = range(1024, 4097, 1024)
    "1024"  = range(2048, 8193, 1024)
    "2048"  = range(4096, 16385, 1024)
    "4096"  = range(8192, 30721, 1024)
    "8192"  = range(16384, 61441, 4096)
    "16384" = range(32768, 122881, 8192)
  }

  # Same pattern as in modules/service: the name ends in the 6 characters Secrets Manager adds.
  secret_arn_pattern = "^arn:aws[a-zA-Z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}(:[^:]*:[^:]*:[^:]*)?$"

  public_url     = "https://${var.domain_name}"
  log_group_name = "/ecs/${var.name}"
  # Named here, not taken from module.network, because the key policy must name it before the
  # group exists (the group is encrypted with the key).
  flow_logs_group_name = "/vpc/${var.name}/flow-logs"
  image                = var.image != null ? var.image : module.ecr[0].repository_url
}

module "network" {
  source = "./modules/network"

  name                 = var.name
  cidr_block           = var.vpc_cidr
  az_count             = var.az_count
  nat_gateway_mode     = var.nat_gateway_mode
  enable_vpc_endpoints = var.enable_vpc_endpoints
  enable_flow_logs     = var.enable_flow_logs

  flow_logs_group_name  = local.flow_logs_group_name
  flow_logs_kms_key_arn = var.encrypt_logs && var.enable_flow_logs ? module.data.kms_key_arn : null
}

module "ecr" {
  source = "./modules/ecr"
  count  = var.create_ecr_repository ? 1 : 0

  name         = var.name
  force_delete = var.ecr_force_delete
}

module "data" {
  source = "./modules/data"

  name                      = var.name
  table_deletion_protection = var.table_deletion_protection
  key_user_arns             = [module.service.task_role_arn]
  log_group_names           = var.encrypt_logs ? concat([local.log_group_name], var.enable_flow_logs ? [local.flow_logs_group_name] : []) : []
}

module "alb" {
  source = "./modules/alb"

  name                 = var.name
  vpc_id               = module.network.vpc_id
  vpc_cidr_block       = module.network.vpc_cidr_block
  public_subnet_ids    = module.network.public_subnet_ids
  certificate_arn      = var.certificate_arn
  ssl_policy           = var.alb_ssl_policy
  ingress_cidr_blocks  = var.alb_ingress_cidr_blocks
  public_paths         = var.alb_public_paths
  idle_timeout         = var.alb_idle_timeout
  target_port          = var.container_port
  deregistration_delay = var.deregistration_delay
  deletion_protection  = var.alb_deletion_protection
  access_logs_bucket   = var.alb_access_logs_bucket
}

module "service" {
  source = "./modules/service"

  name               = var.name
  region             = var.region
  vpc_id             = module.network.vpc_id
  private_subnet_ids = module.network.private_subnet_ids

  alb_security_group_id    = module.alb.security_group_id
  target_group_arn         = module.alb.target_group_arn
  alb_idle_timeout         = var.alb_idle_timeout
  alb_deregistration_delay = var.deregistration_delay

  image              = local.image
  worker_image_tag   = var.worker_image_tag
  ecr_repository_arn = var.create_ecr_repository ? module.ecr[0].repository_arn : null
  cpu_architecture   = var.cpu_architecture
  cpu                = var.task_cpu
  memory             = var.task_memory
  container_port     = var.container_port
  desired_count      = var.min_capacity

  health_check_grace_period = var.health_check_grace_period
  drain_delay               = var.drain_delay
  stop_budget               = var.stop_budget
  stop_timeout              = var.stop_timeout
  request_timeout           = var.request_timeout

  public_url            = local.public_url
  allowed_email_domains = var.allowed_email_domains
  sessions_table_name   = module.data.table_name
  sessions_table_arn    = module.data.table_arn
  app_kms_key_arn       = module.data.kms_key_arn
  environment           = var.extra_environment
  upstreams             = var.upstreams
  upstream_separator    = var.upstream_separator
  allowed_origins       = var.allowed_origins
  egress_ports          = var.egress_ports
  secrets = merge(var.upstream_secrets, {
    MCPGW_GOOGLE_CLIENT_ID     = var.google_client_id_secret_arn
    MCPGW_GOOGLE_CLIENT_SECRET = var.google_client_secret_secret_arn
    MCPGW_SIGNING_KEY          = var.signing_key_secret_arn
  })
  secrets_kms_key_arn = var.secrets_kms_key_arn

  log_group_name     = local.log_group_name
  log_retention_days = var.log_retention_days
  log_kms_key_arn    = var.encrypt_logs ? module.data.kms_key_arn : null
  redeploy_trigger   = var.redeploy_trigger
}

module "autoscaling" {
  source = "./modules/autoscaling"

  name                     = var.name
  cluster_name             = module.service.cluster_name
  service_name             = module.service.service_name
  min_capacity             = var.min_capacity
  max_capacity             = var.max_capacity
  cpu_target               = var.cpu_target
  alb_arn_suffix           = module.alb.arn_suffix
  target_group_arn_suffix  = module.alb.target_group_arn_suffix
  requests_per_target_high = var.requests_per_target_high
  requests_per_target_low  = var.requests_per_target_low
}

resource "aws_route53_record" "gateway" {
  count = var.route53_zone_id == null ? 0 : 1

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = module.alb.dns_name
    zone_id                = module.alb.zone_id
    evaluate_target_health = true
  }
}
