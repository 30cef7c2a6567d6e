# Offline tests of the data module (mock AWS provider): the sessions table's shape, PITR and
# customer-managed encryption; the key's rotation and policy.

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_resource "aws_kms_key" {
    defaults = {
      arn    = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
      key_id = "11111111-2222-3333-4444-555555555555"
    }
  }
}

variables {
  name            = "mcpgw"
  key_user_arns   = ["arn:aws:iam::123456789012:role/mcpgw-task-1"]
  log_group_names = ["/ecs/mcpgw"]
}

run "sessions_table" {
  command = plan

  assert {
    condition     = aws_dynamodb_table.sessions.name == "mcpgw-sessions" && aws_dynamodb_table.sessions.hash_key == "pk"
    error_message = "The table must be mcpgw-sessions with partition key pk."
  }

  assert {
    condition     = one(aws_dynamodb_table.sessions.attribute).name == "pk" && one(aws_dynamodb_table.sessions.attribute).type == "S"
    error_message = "pk must be a string attribute (and the only declared one)."
  }

  assert {
    condition     = aws_dynamodb_table.sessions.billing_mode == "PAY_PER_REQUEST"
    error_message = "The table must be on-demand."
  }

  assert {
    condition     = one(aws_dynamodb_table.sessions.ttl).enabled && one(aws_dynamodb_table.sessions.ttl).attribute_name == "expires_at"
    error_message = "TTL must be on, on expires_at."
  }

  assert {
    condition     = aws_dynamodb_table.sessions.deletion_protection_enabled == true
    error_message = "The table must be protected from deletion by default."
  }
}

run "table_has_pitr_and_cmk_encryption" {
  command = apply

  assert {
    condition     = one(aws_dynamodb_table.sessions.point_in_time_recovery).enabled
    error_message = "Point-in-time recovery must be on."
  }

  assert {
    condition     = one(aws_dynamodb_table.sessions.server_side_encryption).enabled && one(aws_dynamodb_table.sessions.server_side_encryption).kms_key_arn == aws_kms_key.this.arn
    error_message = "The table must be encrypted with the module's customer-managed key."
  }

  assert {
    condition     = output.kms_key_arn == "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    error_message = "The module must output the key's ARN."
  }
}

run "key_rotation_and_deletion_window" {
  command = plan

  assert {
    condition     = aws_kms_key.this.enable_key_rotation == true && aws_kms_key.this.rotation_period_in_days == 365
    error_message = "Key rotation must be on (yearly by default)."
  }

  assert {
    condition     = aws_kms_key.this.deletion_window_in_days == 30 && aws_kms_key.this.key_usage == "ENCRYPT_DECRYPT" && aws_kms_key.this.multi_region == false
    error_message = "The key must be a single-region symmetric key with a 30-day deletion window."
  }

  assert {
    condition     = aws_kms_alias.this.name == "alias/mcpgw"
    error_message = "The key must have the alias alias/<name>."
  }
}

run "key_policy_is_tight" {
  command = plan

  assert {
    condition = alltrue([
      for s in jsondecode(aws_kms_key_policy.this.policy).Statement :
      !contains(flatten([s.Action]), "kms:*") && !contains(flatten([try(s.Principal.AWS, [])]), "*") && try(s.Principal, "") != "*"
    ])
    error_message = "The key policy must not grant kms:* nor name the \"*\" principal."
  }

  assert {
    condition = alltrue([
      for a in one([for s in jsondecode(aws_kms_key_policy.this.policy).Statement : s.Action if s.Sid == "KeyAdministration"]) :
      !contains(["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"], a)
    ])
    error_message = "Administrators must not be able to use the key on data."
  }

  assert {
    condition     = one([for s in jsondecode(aws_kms_key_policy.this.policy).Statement : s.Principal.AWS if s.Sid == "GatewayUse"]) == ["arn:aws:iam::123456789012:role/mcpgw-task-1"]
    error_message = "Direct use of the key must be limited to the given key users (the task role)."
  }

  assert {
    condition     = one([for s in jsondecode(aws_kms_key_policy.this.policy).Statement : s.Condition.StringEquals["kms:ViaService"] if s.Sid == "UseThroughDynamoDB"]) == "dynamodb.eu-west-1.amazonaws.com"
    error_message = "Account-wide use of the key must go through DynamoDB only."
  }

  assert {
    condition     = one([for s in jsondecode(aws_kms_key_policy.this.policy).Statement : s.Condition.ArnEquals["kms:EncryptionContext:aws:logs:arn"] if s.Sid == "CloudWatchLogsForNamedGroups"]) == ["arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/mcpgw"]
    error_message = "CloudWatch Logs may use the key for the named log group only."
  }
}

run "no_logs_statement_without_log_groups" {
  command = plan

  variables {
    log_group_names = []
  }

  assert {
    condition     = length([for s in jsondecode(aws_kms_key_policy.this.policy).Statement : s if s.Sid == "CloudWatchLogsForNamedGroups"]) == 0
    error_message = "Without log groups the key policy must not mention CloudWatch Logs."
  }
}

run "short_rotation_period_is_refused" {
  command = plan

  variables {
    key_rotation_period_days = 30
  }

  expect_failures = [var.key_rotation_period_days]
}
