output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.this.name
}

output "service_arn" {
  description = "ARN of the ECS service."
  value       = aws_ecs_service.this.id
}

output "task_definition_arn" {
  description = "ARN (with revision) of the task definition the service runs."
  value       = aws_ecs_task_definition.this.arn
}

output "desired_count" {
  description = "Task count the service was created with. Terraform ignores later changes (autoscaling owns the count), so after creation this is the count in the state, not desired_count."
  value       = aws_ecs_service.this.desired_count
}

output "task_definition_family" {
  description = "Family of the task definition."
  value       = aws_ecs_task_definition.this.family
}

output "container_name" {
  description = "Name of the gateway container in the task."
  value       = local.container_name
}

output "image" {
  description = "Image reference the task definition runs (image with worker_image_tag applied)."
  value       = local.image
}

output "log_group_name" {
  description = "CloudWatch log group of the container."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of the container's log group."
  value       = aws_cloudwatch_log_group.this.arn
}

output "execution_role_arn" {
  description = "ARN of the execution role (image pull, logs, secrets)."
  value       = aws_iam_role.execution.arn
}

output "task_role_arn" {
  description = "ARN of the task role (sessions table, app key)."
  value       = aws_iam_role.task.arn
}

output "security_group_id" {
  description = "ID of the tasks' security group."
  value       = aws_security_group.task.id
}

output "ingress_source_security_group_id" {
  description = "The only source the tasks' ingress rule admits (the ALB's security group, as the rule holds it)."
  value       = aws_vpc_security_group_ingress_rule.from_alb.referenced_security_group_id
}

output "keepalive_idle" {
  description = "MCPGW_KEEPALIVE_IDLE given to the container (ALB idle timeout + margin)."
  value       = local.keepalive_idle
}

output "task_definition_container_definitions" {
  description = "The task definition's container definitions (JSON): environment and secret references, never secret values."
  value       = aws_ecs_task_definition.this.container_definitions
}
