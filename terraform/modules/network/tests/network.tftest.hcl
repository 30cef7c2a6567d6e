# Offline tests of the network module (mock AWS provider): zones, subnets, NAT modes, the closed
# default security group, flow logs with retention, and the endpoints that replace NAT.

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = { names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"] }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:/vpc/mcpgw/flow-logs" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mcpgw-flowlogs-1" }
  }
}

variables {
  name = "mcpgw"
}

run "two_zones_public_and_private_subnets" {
  command = plan

  assert {
    condition     = output.azs == tolist(["eu-west-1a", "eu-west-1b"])
    error_message = "The default spreads over the region's first two available zones."
  }

  assert {
    condition     = [for s in aws_subnet.public : s.cidr_block] == ["10.0.0.0/20", "10.0.16.0/20"] && [for s in aws_subnet.private : s.cidr_block] == ["10.0.128.0/20", "10.0.144.0/20"]
    error_message = "Public subnets come from the lower half of the VPC, private ones from the upper half."
  }

  assert {
    condition     = alltrue([for s in concat(aws_subnet.public, aws_subnet.private) : s.map_public_ip_on_launch == false])
    error_message = "No subnet may hand out public IPs by default."
  }

  assert {
    condition     = aws_vpc.this.enable_dns_hostnames && aws_vpc.this.enable_dns_support
    error_message = "The VPC needs DNS support and hostnames (interface endpoints with private DNS)."
  }
}

run "az_count_is_configurable" {
  command = plan

  variables {
    az_count = 3
  }

  assert {
    condition     = length(aws_subnet.private) == 3 && length(aws_subnet.public) == 3 && length(aws_route_table.private) == 3
    error_message = "az_count = 3 must give three public and three private subnets."
  }
}

run "explicit_zones" {
  command = plan

  variables {
    availability_zones = ["eu-west-1b", "eu-west-1c"]
  }

  assert {
    condition     = [for s in aws_subnet.private : s.availability_zone] == ["eu-west-1b", "eu-west-1c"]
    error_message = "Explicit zones must be used as given."
  }
}

run "single_nat_by_default" {
  command = plan

  assert {
    condition     = length(aws_nat_gateway.this) == 1 && length(aws_eip.nat) == 1 && length(aws_route.private_nat) == 2
    error_message = "single mode: one NAT gateway, a default route in every private route table."
  }
}

run "one_nat_per_zone" {
  command = plan

  variables {
    nat_gateway_mode = "one_per_az"
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 2 && length(aws_route.private_nat) == 2
    error_message = "one_per_az mode: one NAT gateway per zone."
  }
}

run "no_nat" {
  command = plan

  variables {
    nat_gateway_mode     = "none"
    enable_vpc_endpoints = true
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 0 && length(aws_route.private_nat) == 0
    error_message = "none mode: no NAT gateway and no default route."
  }
}

run "default_security_group_is_closed" {
  command = plan

  assert {
    condition     = length(aws_default_security_group.this.ingress) == 0 && length(aws_default_security_group.this.egress) == 0
    error_message = "The default security group must have no rules at all."
  }
}

run "flow_logs_with_retention" {
  command = apply

  assert {
    condition     = length(aws_flow_log.this) == 1 && aws_flow_log.this[0].traffic_type == "ALL"
    error_message = "Flow logs must record all traffic when enabled (the default)."
  }

  assert {
    condition     = aws_cloudwatch_log_group.flow_logs[0].retention_in_days == 90
    error_message = "The flow-log group must have a retention."
  }

  assert {
    condition     = one(jsondecode(aws_iam_role_policy.flow_logs[0].policy).Statement).Resource == ["arn:aws:logs:eu-west-1:123456789012:log-group:/vpc/mcpgw/flow-logs:*"]
    error_message = "The flow-log role must be limited to its log group."
  }

  assert {
    condition = one(jsondecode(aws_iam_role.flow_logs[0].assume_role_policy).Statement).Condition == {
      StringEquals = { "aws:SourceAccount" = "123456789012" }
      ArnLike      = { "aws:SourceArn" = "arn:aws:ec2:eu-west-1:123456789012:vpc-flow-log/*" }
    }
    error_message = "Only this account's flow logs may assume the flow-log role (aws:SourceAccount, aws:SourceArn): no confused deputy."
  }

  assert {
    condition     = aws_cloudwatch_log_group.flow_logs[0].name == "/vpc/mcpgw/flow-logs" && aws_cloudwatch_log_group.flow_logs[0].kms_key_id == null
    error_message = "The flow-log group is /vpc/<name>/flow-logs, with default encryption unless a key is given."
  }
}

run "flow_log_group_named_and_encrypted_as_given" {
  command = plan

  variables {
    flow_logs_group_name  = "/vpc/custom/flow"
    flow_logs_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = aws_cloudwatch_log_group.flow_logs[0].name == "/vpc/custom/flow" && aws_cloudwatch_log_group.flow_logs[0].kms_key_id == var.flow_logs_kms_key_arn
    error_message = "The flow-log group must take the given name and key."
  }
}

run "flow_logs_are_optional" {
  command = plan

  variables {
    enable_flow_logs = false
  }

  assert {
    condition     = length(aws_flow_log.this) == 0 && length(aws_iam_role.flow_logs) == 0 && output.flow_log_group_name == null
    error_message = "enable_flow_logs = false must create no flow log."
  }
}

run "endpoints_off_by_default" {
  command = plan

  assert {
    condition     = length(aws_vpc_endpoint.gateway) == 0 && length(aws_vpc_endpoint.interface) == 0
    error_message = "No VPC endpoints unless asked for."
  }
}

run "endpoints_for_running_without_nat" {
  command = plan

  variables {
    enable_vpc_endpoints = true
  }

  assert {
    condition     = toset(keys(aws_vpc_endpoint.gateway)) == toset(["dynamodb", "s3"]) && toset(keys(aws_vpc_endpoint.interface)) == toset(["ecr.api", "ecr.dkr", "logs", "secretsmanager", "kms"])
    error_message = "Endpoints: DynamoDB and S3 gateways (S3 serves ECR's layers); ECR api/dkr, Logs, Secrets Manager and KMS interfaces."
  }

  assert {
    condition     = aws_vpc_endpoint.gateway["dynamodb"].service_name == "com.amazonaws.eu-west-1.dynamodb" && aws_vpc_endpoint.gateway["dynamodb"].vpc_endpoint_type == "Gateway"
    error_message = "The DynamoDB endpoint must be a gateway endpoint of the region."
  }

  assert {
    condition     = alltrue([for e in aws_vpc_endpoint.interface : e.private_dns_enabled && e.vpc_endpoint_type == "Interface"])
    error_message = "Interface endpoints need private DNS so the SDKs' default hostnames resolve to them."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.endpoints_https[0].from_port == 443 && aws_vpc_security_group_ingress_rule.endpoints_https[0].to_port == 443
    error_message = "Interface endpoints accept only HTTPS."
  }
}

run "bad_nat_mode_is_refused" {
  command = plan

  variables {
    nat_gateway_mode = "two"
  }

  expect_failures = [var.nat_gateway_mode]
}

run "one_zone_is_refused" {
  command = plan

  variables {
    az_count = 1
  }

  expect_failures = [var.az_count]
}
