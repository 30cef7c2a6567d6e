output "table_name" {
  description = "Name of the sessions table."
  value       = aws_dynamodb_table.sessions.name
}

output "table_arn" {
  description = "ARN of the sessions table."
  value       = aws_dynamodb_table.sessions.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key. Known only once the key policy is in place, so that nothing (a log group, a task) tries to use the key before it is allowed to."
  value       = aws_kms_key.this.arn
  depends_on  = [aws_kms_key_policy.this]
}

output "kms_key_id" {
  description = "ID of the KMS key."
  value       = aws_kms_key.this.key_id
}

output "kms_alias_name" {
  description = "Alias of the KMS key."
  value       = aws_kms_alias.this.name
}
