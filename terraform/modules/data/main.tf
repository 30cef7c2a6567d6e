# The gateway's data: a customer-managed KMS key (rotated, with a policy that names who may
# administer and who may use it) and the DynamoDB sessions table encrypted with it.

data "aws_region" "current" {}
data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  region       = data.aws_region.current.name
  partition    = data.aws_partition.current.partition
  account      = data.aws_caller_identity.current.account_id
  account_root = "arn:${local.partition}:iam::${local.account}:root"
  table_name   = coalesce(var.table_name, "${var.name}-sessions")

  administrators = length(var.key_administrator_arns) > 0 ? var.key_administrator_arns : [local.account_root]

  # Administration without use: these actions never touch data.
  admin_actions = [
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:DeleteAlias", "kms:DescribeKey",
    "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListResourceTags",
    "kms:PutKeyPolicy", "kms:RetireGrant", "kms:RevokeGrant", "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion",
    "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
  ]

  key_policy_statements = concat(
    [{
      Sid       = "KeyAdministration"
      Effect    = "Allow"
      Principal = { AWS = local.administrators }
      Action    = local.admin_actions
      Resource  = "*" # in a key policy, "*" means this key
    }],
    length(var.key_user_arns) == 0 ? [] : [{
      Sid       = "GatewayUse"
      Effect    = "Allow"
      Principal = { AWS = var.key_user_arns }
      Action    = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"]
      Resource  = "*"
    }],
    [{
      # DynamoDB encrypts the table with this key on behalf of principals of this account that
      # IAM already allows to use the table; nothing else may use the key through this statement.
      Sid       = "UseThroughDynamoDB"
      Effect    = "Allow"
      Principal = { AWS = local.account_root }
      Action    = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"]
      Resource  = "*"
      Condition = {
        StringEquals = {
          "kms:ViaService"    = "dynamodb.${local.region}.amazonaws.com"
          "kms:CallerAccount" = local.account
        }
      }
    }],
    length(var.log_group_names) == 0 ? [] : [{
      Sid       = "CloudWatchLogsForNamedGroups"
      Effect    = "Allow"
      Principal = { Service = "logs.${local.region}.amazonaws.com" }
      Action    = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"]
      Resource  = "*"
      Condition = {
        ArnEquals = {
          "kms:EncryptionContext:aws:logs:arn" = [for n in var.log_group_names : "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${n}"]
        }
      }
    }],
  )
}

resource "aws_kms_key" "this" {
  description              = "${var.name}: sessions table and application secrets"
  key_usage                = "ENCRYPT_DECRYPT"
  customer_master_key_spec = "SYMMETRIC_DEFAULT"
  enable_key_rotation      = true
  rotation_period_in_days  = var.key_rotation_period_days
  deletion_window_in_days  = var.key_deletion_window_days
  multi_region             = false

  tags = var.tags
}

# The policy is its own resource so that it can name the task role, which itself needs the key's
# ARN: key -> role -> policy, no cycle.
resource "aws_kms_key_policy" "this" {
  key_id = aws_kms_key.this.key_id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = local.key_policy_statements
  })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_dynamodb_table" "sessions" {
  name                        = local.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  table_class                 = "STANDARD"
  deletion_protection_enabled = var.table_deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }

  tags = var.tags
}
