output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "azs" {
  description = "Availability zones the subnets are spread over, in subnet order."
  value       = local.azs
}

output "public_subnet_ids" {
  description = "IDs of the public subnets (one per zone), for the ALB."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets (one per zone), for the tasks."
  value       = aws_subnet.private[*].id
}

output "private_route_table_ids" {
  description = "IDs of the private route tables (one per zone)."
  value       = aws_route_table.private[*].id
}

output "nat_gateway_ids" {
  description = "IDs of the NAT gateways (none, one, or one per zone)."
  value       = aws_nat_gateway.this[*].id
}

output "default_security_group_id" {
  description = "ID of the VPC's default security group, left without rules."
  value       = aws_default_security_group.this.id
}

output "flow_log_group_name" {
  description = "Name of the flow-log group, or null when flow logs are off."
  value       = var.enable_flow_logs ? aws_cloudwatch_log_group.flow_logs[0].name : null
}

output "flow_log_group_kms_key_arn" {
  description = "KMS key the flow-log group is encrypted with; null with default encryption or without flow logs."
  value       = var.enable_flow_logs ? aws_cloudwatch_log_group.flow_logs[0].kms_key_id : null
}

output "vpc_endpoint_ids" {
  description = "IDs of the VPC endpoints by service (dynamodb, s3, ecr.api, ecr.dkr, logs, secretsmanager, kms); empty when disabled."
  value = merge(
    { for k, e in aws_vpc_endpoint.gateway : k => e.id },
    { for k, e in aws_vpc_endpoint.interface : k => e.id },
  )
}
