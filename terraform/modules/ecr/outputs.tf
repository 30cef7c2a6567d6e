output "repository_url" {
  description = "URL of the repository (ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME): tag and push images to it."
  value       = aws_ecr_repository.this.repository_url
}

output "repository_arn" {
  description = "ARN of the repository, for the execution role's pull permission."
  value       = aws_ecr_repository.this.arn
}

output "force_delete" {
  description = "Whether terraform destroy deletes the repository even while it holds images."
  value       = aws_ecr_repository.this.force_delete
}

output "repository_name" {
  description = "Name of the repository."
  value       = aws_ecr_repository.this.name
}
