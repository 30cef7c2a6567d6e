# Offline tests of the alb module (mock AWS provider): HTTPS with a TLS 1.3 policy, HTTP redirected,
# invalid headers dropped, only the public paths forwarded (a JSON 404 for the rest), an ip target
# group health-checking /health, replace-safe target group.

mock_provider "aws" {
  # Distinct, well-formed ARNs for the runs that apply, so that "forwards to the target group"
  # and "belongs to the HTTPS listener" compare real values.
  mock_resource "aws_lb" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/mcpgw/0123456789abcdef" }
  }
  mock_resource "aws_lb_target_group" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/mcpgw2024/fedcba9876543210" }
  }
  mock_resource "aws_lb_listener" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/mcpgw/0123456789abcdef/0011223344556677" }
  }
  mock_resource "aws_lb_listener_rule" {
    defaults = { arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/mcpgw/0123456789abcdef/0011223344556677/8899aabbccddeeff" }
  }
}

variables {
  name              = "mcpgw"
  vpc_id            = "vpc-0123456789abcdef0"
  vpc_cidr_block    = "10.0.0.0/16"
  public_subnet_ids = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
  certificate_arn   = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-1111-2222-3333-444444444444"
}

run "https_listener_uses_tls13_policy_and_the_certificate" {
  command = plan

  assert {
    condition     = aws_lb_listener.https.protocol == "HTTPS" && aws_lb_listener.https.port == 443
    error_message = "The ALB must listen for HTTPS on 443."
  }

  assert {
    condition     = startswith(aws_lb_listener.https.ssl_policy, "ELBSecurityPolicy-TLS13-") && aws_lb_listener.https.ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    error_message = "The HTTPS listener must set a TLS 1.3 policy explicitly (ELBSecurityPolicy-TLS13-1-2-2021-06 by default)."
  }

  assert {
    condition     = aws_lb_listener.https.certificate_arn == var.certificate_arn
    error_message = "The HTTPS listener must use the given ACM certificate."
  }

  assert {
    condition     = one(aws_lb_listener.https.default_action).type == "fixed-response"
    error_message = "The HTTPS listener must not forward by default: only its rule forwards the public paths."
  }

  assert {
    condition     = aws_lb_listener.https.routing_http_response_strict_transport_security_header_value == "max-age=31536000"
    error_message = "The HTTPS listener must add an HSTS header."
  }
}

# ---------------------------------------------------------------------------------------------
# Only the public paths reach the gateway; the listener answers the rest itself.

run "unrouted_paths_get_a_json_404_from_the_listener" {
  command = plan

  assert {
    condition = (
      one(aws_lb_listener.https.default_action).type == "fixed-response" &&
      one(one(aws_lb_listener.https.default_action).fixed_response).status_code == "404" &&
      one(one(aws_lb_listener.https.default_action).fixed_response).content_type == "application/json"
    )
    error_message = "Every path no rule matches (/health, /ready, /status, /) must get a fixed 404 with content type application/json from the listener."
  }

  assert {
    condition     = one(aws_lb_listener.https.default_action).target_group_arn == null && length(one(aws_lb_listener.https.default_action).forward) == 0
    error_message = "The listener's default action must not forward anywhere."
  }

  assert {
    condition = (
      jsondecode(one(one(aws_lb_listener.https.default_action).fixed_response).message_body).jsonrpc == "2.0" &&
      jsondecode(one(one(aws_lb_listener.https.default_action).fixed_response).message_body).id == null &&
      jsondecode(one(one(aws_lb_listener.https.default_action).fixed_response).message_body).error.code == -32600 &&
      startswith(jsondecode(one(one(aws_lb_listener.https.default_action).fixed_response).message_body).error.message, "not found")
    )
    error_message = "The 404 body must be a JSON-RPC error like the gateway's own: {\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"not found: ...\"}}."
  }

  assert {
    condition     = length(one(one(aws_lb_listener.https.default_action).fixed_response).message_body) <= 1024
    error_message = "An ALB fixed-response body is at most 1024 bytes."
  }
}

# Applied (mock ARNs), so that the rule's listener and target group are compared as values.
run "public_paths_rule_forwards_exactly_mcp_and_well_known" {
  command = apply

  assert {
    condition     = aws_lb_listener_rule.public.listener_arn == aws_lb_listener.https.arn
    error_message = "The public rule must belong to the HTTPS listener."
  }

  assert {
    condition = (
      length(aws_lb_listener_rule.public.action) == 1 &&
      one(aws_lb_listener_rule.public.action).type == "forward" &&
      one(aws_lb_listener_rule.public.action).target_group_arn == aws_lb_target_group.this.arn
    )
    error_message = "The public rule must forward to the module's target group, and do nothing else."
  }

  assert {
    condition = (
      length(aws_lb_listener_rule.public.condition) == 1 &&
      one(one(aws_lb_listener_rule.public.condition).path_pattern).values == toset(["/mcp", "/.well-known/*"])
    )
    error_message = "The public rule must have one condition, a path pattern of exactly /mcp and /.well-known/*."
  }

  assert {
    condition     = output.public_paths == tolist(["/.well-known/*", "/mcp"]) && output.public_rule_arn == aws_lb_listener_rule.public.arn
    error_message = "The outputs must report the rule's path patterns (sorted) and its ARN."
  }

  assert {
    condition     = !anytrue([for p in one(one(aws_lb_listener_rule.public.condition).path_pattern).values : contains(["/health", "/ready", "/status", "/*", "*"], p)])
    error_message = "The health and operator endpoints must not be forwarded, nor everything."
  }
}

run "public_paths_are_configurable" {
  command = plan

  variables {
    public_paths = ["/mcp", "/mcp/*", "/.well-known/*", "/authorize", "/token"]
  }

  assert {
    condition     = one(one(aws_lb_listener_rule.public.condition).path_pattern).values == toset(["/mcp", "/mcp/*", "/.well-known/*", "/authorize", "/token"])
    error_message = "The rule must forward exactly the configured path patterns (5, the most a condition takes)."
  }
}

run "six_public_paths_are_refused" {
  command = plan

  variables {
    public_paths = ["/mcp", "/.well-known/*", "/a", "/b", "/c", "/d"]
  }

  expect_failures = [var.public_paths]
}

run "no_public_paths_is_refused" {
  command = plan

  variables {
    public_paths = []
  }

  expect_failures = [var.public_paths]
}

run "public_path_without_leading_slash_is_refused" {
  command = plan

  variables {
    public_paths = ["mcp"]
  }

  expect_failures = [var.public_paths]
}

run "public_path_over_128_characters_is_refused" {
  command = plan

  variables {
    public_paths = ["/mcp", "/${join("", [for i in range(128) : "a"])}"]
  }

  expect_failures = [var.public_paths]
}

run "public_path_of_128_characters_is_accepted" {
  command = plan

  variables {
    public_paths = ["/${join("", [for i in range(127) : "a"])}"]
  }

  assert {
    condition     = length(one(one(one(aws_lb_listener_rule.public.condition).path_pattern).values)) == 128
    error_message = "A 128-character path pattern is the ALB's maximum and must be accepted."
  }
}

run "public_path_with_a_space_is_refused" {
  command = plan

  variables {
    public_paths = ["/mcp x"]
  }

  expect_failures = [var.public_paths]
}

run "more_than_five_wildcards_are_refused" {
  command = plan

  variables {
    public_paths = ["/a/*/*/*", "/b/*/?/*"]
  }

  expect_failures = [var.public_paths]
}

# ---------------------------------------------------------------------------------------------

run "non_tls13_policy_is_refused" {
  command = plan

  variables {
    ssl_policy = "ELBSecurityPolicy-2016-08"
  }

  expect_failures = [var.ssl_policy]
}

run "tls13_only_policy_is_accepted" {
  command = plan

  variables {
    ssl_policy = "ELBSecurityPolicy-TLS13-1-3-2021-06"
  }

  assert {
    condition     = aws_lb_listener.https.ssl_policy == "ELBSecurityPolicy-TLS13-1-3-2021-06"
    error_message = "A TLS 1.3-only policy must be accepted."
  }
}

run "http_redirects_to_https" {
  command = plan

  assert {
    condition     = aws_lb_listener.http.port == 80 && aws_lb_listener.http.protocol == "HTTP"
    error_message = "The ALB must listen on 80 only to redirect."
  }

  assert {
    condition = (
      one(aws_lb_listener.http.default_action).type == "redirect" &&
      one(one(aws_lb_listener.http.default_action).redirect).protocol == "HTTPS" &&
      one(one(aws_lb_listener.http.default_action).redirect).port == "443" &&
      one(one(aws_lb_listener.http.default_action).redirect).status_code == "HTTP_301"
    )
    error_message = "HTTP must be redirected (301) to HTTPS on 443."
  }
}

run "load_balancer_settings" {
  command = plan

  assert {
    condition     = aws_lb.this.drop_invalid_header_fields == true
    error_message = "The ALB must drop invalid header fields."
  }

  assert {
    condition     = aws_lb.this.internal == false && aws_lb.this.load_balancer_type == "application"
    error_message = "The load balancer must be an internet-facing ALB."
  }

  assert {
    condition     = aws_lb.this.idle_timeout == 60
    error_message = "The idle timeout must default to 60 s."
  }

  assert {
    condition     = aws_lb.this.enable_deletion_protection == true
    error_message = "Deletion protection must be on by default."
  }

  assert {
    condition     = aws_lb.this.desync_mitigation_mode == "defensive"
    error_message = "HTTP desync mitigation must be at least defensive."
  }

  assert {
    condition     = length(aws_lb.this.access_logs) == 0
    error_message = "Access logs are off unless a bucket is given."
  }
}

run "access_logs_and_idle_timeout_are_configurable" {
  command = plan

  variables {
    access_logs_bucket  = "my-alb-logs"
    idle_timeout        = 120
    deletion_protection = false
  }

  assert {
    condition     = one(aws_lb.this.access_logs).bucket == "my-alb-logs" && one(aws_lb.this.access_logs).enabled
    error_message = "Access logs must go to the given bucket."
  }

  assert {
    condition     = aws_lb.this.idle_timeout == 120 && output.idle_timeout == 120
    error_message = "The idle timeout must follow the variable."
  }

  assert {
    condition     = aws_lb.this.enable_deletion_protection == false
    error_message = "Deletion protection must follow the variable."
  }
}

run "target_group_is_ip_with_health_checks_on_health" {
  command = plan

  assert {
    condition     = aws_lb_target_group.this.target_type == "ip"
    error_message = "Fargate (awsvpc) tasks need a target group of type ip."
  }

  assert {
    condition     = aws_lb_target_group.this.port == 8080 && aws_lb_target_group.this.protocol == "HTTP"
    error_message = "The target group must forward HTTP to the container port."
  }

  assert {
    condition = (
      one(aws_lb_target_group.this.health_check).enabled &&
      one(aws_lb_target_group.this.health_check).path == "/health" &&
      one(aws_lb_target_group.this.health_check).matcher == "200" &&
      one(aws_lb_target_group.this.health_check).port == "traffic-port" &&
      one(aws_lb_target_group.this.health_check).protocol == "HTTP"
    )
    error_message = "The ALB must health-check GET /health on the traffic port and want 200 (a draining task answers 503)."
  }

  assert {
    condition     = one(aws_lb_target_group.this.health_check).timeout < one(aws_lb_target_group.this.health_check).interval
    error_message = "The health check timeout must be shorter than its interval."
  }

  assert {
    condition     = aws_lb_target_group.this.deregistration_delay == "65" && output.deregistration_delay == 65
    error_message = "The deregistration delay must default to 65 s (longer than the gateway's 60 s request timeout), not AWS's 300."
  }
}

run "deregistration_delay_output_is_the_target_groups" {
  command = plan

  variables {
    deregistration_delay = 125
  }

  assert {
    condition     = aws_lb_target_group.this.deregistration_delay == "125" && output.deregistration_delay == 125
    error_message = "deregistration_delay must reach the target group, and the output must report the target group's value."
  }
}

# What the mock provider can show: the new port reaches the group and the egress rule, and the
# group is named by prefix. What it cannot: a mock never plans a replacement (it does not know
# that port forces one), computes `name` only at apply (a random string, so `name == null`
# cannot be asserted; at plan it is unknown, which a configured name would not be), and does
# not expose lifecycle settings. tests/terraform/run.sh therefore also plans this module with
# the real provider, offline, from a state holding the group: a port change must plan a
# create-before-destroy replacement ("create" then "delete") of a group configured with
# name_prefix and no name.
run "target_group_survives_a_port_change" {
  command = plan

  variables {
    target_port = 9090
  }

  assert {
    condition     = aws_lb_target_group.this.name_prefix == "mcpgw"
    error_message = "The target group must be named by prefix, so its replacement does not collide with the old one."
  }

  assert {
    condition     = aws_lb_target_group.this.port == 9090 && aws_vpc_security_group_egress_rule.targets.from_port == 9090
    error_message = "A port change must reach the target group and the ALB's egress rule."
  }
}

run "alb_security_group_rules" {
  command = plan

  assert {
    condition     = toset([for r in aws_vpc_security_group_ingress_rule.https : r.from_port]) == toset([443]) && toset([for r in aws_vpc_security_group_ingress_rule.http : r.from_port]) == toset([80])
    error_message = "The ALB must accept 443 and 80 only."
  }

  assert {
    condition     = aws_vpc_security_group_egress_rule.targets.cidr_ipv4 == "10.0.0.0/16" && aws_vpc_security_group_egress_rule.targets.from_port == 8080 && aws_vpc_security_group_egress_rule.targets.to_port == 8080
    error_message = "The ALB may only connect to the targets' port inside the VPC."
  }
}

run "certificate_must_be_an_acm_arn" {
  command = plan

  variables {
    certificate_arn = "arn:aws:iam::123456789012:server-certificate/old"
  }

  expect_failures = [var.certificate_arn]
}

run "single_subnet_is_refused" {
  command = plan

  variables {
    public_subnet_ids = ["subnet-0aaaaaaaaaaaaaaaa"]
  }

  expect_failures = [var.public_subnet_ids]
}
