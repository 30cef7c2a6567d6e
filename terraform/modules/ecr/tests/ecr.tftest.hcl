# Offline tests of the ecr module (mock AWS provider).

mock_provider "aws" {}

variables {
  name = "mcpgw"
}

run "repository_is_scanned_and_immutable" {
  command = plan

  assert {
    condition     = one(aws_ecr_repository.this.image_scanning_configuration).scan_on_push == true
    error_message = "Images must be scanned on push."
  }

  assert {
    condition     = aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE"
    error_message = "Tags must be immutable (a tag always names the same build, so rollbacks are exact)."
  }

  assert {
    condition     = one(aws_ecr_repository.this.encryption_configuration).encryption_type == "AES256" && aws_ecr_repository.this.force_delete == false
    error_message = "Default: AES-256 encryption, and no deleting a repository that still has images."
  }
}

run "lifecycle_policy" {
  command = plan

  assert {
    condition = [for r in jsondecode(aws_ecr_lifecycle_policy.this.policy).rules : "${r.rulePriority}:${r.selection.tagStatus}:${r.selection.countType}:${r.selection.countNumber}"] == [
      "1:untagged:sinceImagePushed:7",
      "2:any:imageCountMoreThan:30",
    ]
    error_message = "The lifecycle policy must expire untagged images after 7 days and keep the 30 newest images."
  }
}

run "kms_encryption_when_a_key_is_given" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = one(aws_ecr_repository.this.encryption_configuration).encryption_type == "KMS" && one(aws_ecr_repository.this.encryption_configuration).kms_key == var.kms_key_arn
    error_message = "A given key must encrypt the repository."
  }
}

run "invalid_name_is_refused" {
  command = plan

  variables {
    name = "MCPGW"
  }

  expect_failures = [var.name]
}
