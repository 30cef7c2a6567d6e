# Internet-facing ALB for the gateway: HTTPS only (TLS 1.3 policy, HTTP redirected), invalid
# header fields dropped, one target group of type ip that health-checks /health on the tasks. The
# HTTPS listener forwards only the public paths (/mcp, /.well-known/*) and answers every other
# path itself with a 404, so /health, /ready and /status are not reachable from the internet.

locals {
  # The listener's answer to every path outside public_paths: a JSON-RPC error of the shape the
  # gateway itself uses for requests it refuses before dispatch (worker/serve.c), so a client
  # that typed a wrong URL reads the same kind of error as from the gateway.
  not_found_body = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"not found: this path is not served\"}}"
}

resource "aws_security_group" "alb" {
  name_prefix = "${substr(var.name, 0, 20)}-alb-"
  description = "Internet-facing ALB of ${var.name}: 80 and 443 in, the targets' port out to the VPC"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-alb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "https" {
  for_each = toset(var.ingress_cidr_blocks)

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from clients"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "http" {
  for_each = toset(var.ingress_cidr_blocks)

  security_group_id = aws_security_group.alb.id
  description       = "HTTP from clients, answered with a redirect to HTTPS"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "targets" {
  security_group_id = aws_security_group.alb.id
  description       = "Requests and health checks to the tasks"
  ip_protocol       = "tcp"
  from_port         = var.target_port
  to_port           = var.target_port
  cidr_ipv4         = var.vpc_cidr_block
}

resource "aws_lb" "this" {
  name               = var.name
  internal           = false
  load_balancer_type = "application"
  security_groups    = [aws_security_group.alb.id]
  subnets            = var.public_subnet_ids

  idle_timeout               = var.idle_timeout
  drop_invalid_header_fields = true
  desync_mitigation_mode     = "defensive"
  enable_http2               = true
  enable_deletion_protection = var.deletion_protection

  dynamic "access_logs" {
    for_each = var.access_logs_bucket == null ? [] : [var.access_logs_bucket]
    content {
      bucket  = access_logs.value
      prefix  = var.access_logs_prefix
      enabled = true
    }
  }

  tags = merge(var.tags, { Name = var.name })
}

# name_prefix + create_before_destroy: changing the port (or anything else that replaces the
# target group) creates the new group first, moves the forwarding rule and the service to it,
# then deletes the old one. A fixed name would collide with the old group, and the old group
# cannot be deleted while the rule still points at it: the apply would wedge.
resource "aws_lb_target_group" "this" {
  name_prefix          = substr(replace(var.name, "-", ""), 0, 5)
  vpc_id               = var.vpc_id
  target_type          = "ip"
  protocol             = "HTTP"
  protocol_version     = "HTTP1"
  port                 = var.target_port
  deregistration_delay = var.deregistration_delay

  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = "traffic-port"
    path                = var.health_check_path
    matcher             = "200"
    interval            = var.health_check_interval
    timeout             = var.health_check_timeout
    healthy_threshold   = var.healthy_threshold
    unhealthy_threshold = var.unhealthy_threshold
  }

  tags = merge(var.tags, { Name = var.name })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  routing_http_response_strict_transport_security_header_value = var.hsts_max_age > 0 ? "max-age=${var.hsts_max_age}" : null

  # Only aws_lb_listener_rule.public forwards; what no rule matches ends here. The target
  # group's health checks go to the tasks directly, never through a listener, so /health needs
  # no route.
  default_action {
    type = "fixed-response"

    fixed_response {
      content_type = "application/json"
      message_body = local.not_found_body
      status_code  = "404"
    }
  }

  tags = var.tags
}

# The public paths, and the only route to the target group: it is through this rule that the
# group is attached to the load balancer (see the target_group_arn output). A path-pattern
# condition matches the path only, never the query string, and case-sensitively.
resource "aws_lb_listener_rule" "public" {
  listener_arn = aws_lb_listener.https.arn
  # Room below it for rules an operator may want to put in front (a maintenance page, say).
  priority = 100

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  condition {
    path_pattern {
      values = var.public_paths
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }

  tags = var.tags
}
