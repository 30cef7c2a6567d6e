output "mcp_url" {
  description = "URL MCP clients connect to."
  value       = "${local.public_url}/mcp"
}

output "alb_dns_name" {
  description = "DNS name of the ALB: the domain must resolve to it (CNAME or alias)."
  value       = module.alb.dns_name
}

output "alb_zone_id" {
  description = "Hosted zone ID of the ALB, for a Route 53 alias record."
  value       = module.alb.zone_id
}

output "alb_public_paths" {
  description = "Path patterns the ALB forwards to the gateway; every other path gets the ALB's own 404."
  value       = module.alb.public_paths
}

output "service_arn" {
  description = "ARN of the ECS service."
  value       = module.service.service_arn
}

output "cluster_name" {
  description = "Name of the ECS cluster (for aws ecs update-service --cluster)."
  value       = module.service.cluster_name
}

output "service_name" {
  description = "Name of the ECS service (for aws ecs update-service --service)."
  value       = module.service.service_name
}

output "log_group_name" {
  description = "CloudWatch log group of the gateway container."
  value       = module.service.log_group_name
}

output "image" {
  description = "Image reference the running task definition uses."
  value       = module.service.image
}

output "task_definition_container_definitions" {
  description = "The task definition's container definitions (JSON): image, environment and secret references (never secret values), for review before an apply."
  value       = module.service.task_definition_container_definitions
}

output "task_definition_arn" {
  description = "ARN of the current task definition revision (for rollback, see docs/DEPLOY.md)."
  value       = module.service.task_definition_arn
}

output "sessions_table_name" {
  description = "Name of the DynamoDB sessions table."
  value       = module.data.table_name
}

output "kms_key_arn" {
  description = "ARN of the gateway's KMS key."
  value       = module.data.kms_key_arn
}

output "ecr_repository_url" {
  description = "URL of the ECR repository, when create_ecr_repository is true (else null)."
  value       = var.create_ecr_repository ? module.ecr[0].repository_url : null
}
