output "arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "arn_suffix" {
  description = "ARN suffix of the load balancer (the LoadBalancer dimension of its CloudWatch metrics)."
  value       = aws_lb.this.arn_suffix
}

output "dns_name" {
  description = "DNS name of the load balancer: point the domain at it (CNAME, or a Route 53 alias with zone_id)."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Route 53 hosted zone ID of the load balancer, for alias records."
  value       = aws_lb.this.zone_id
}

output "security_group_id" {
  description = "ID of the load balancer's security group: the only source the tasks accept."
  value       = aws_security_group.alb.id
}

# The group is attached to the load balancer through the public rule alone (the listener's
# default action is a fixed 404): a service given this ARN before the rule exists fails with
# "target group ... does not have an associated load balancer".
output "target_group_arn" {
  description = "ARN of the ip target group the service registers its tasks in. Known only once the HTTPS listener's rule forwards to it: ECS refuses a target group that nothing attaches to a load balancer."
  value       = aws_lb_target_group.this.arn
  depends_on  = [aws_lb_listener.https, aws_lb_listener_rule.public]
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the target group (the TargetGroup dimension of its CloudWatch metrics)."
  value       = aws_lb_target_group.this.arn_suffix
}

output "https_listener_arn" {
  description = "ARN of the HTTPS listener."
  value       = aws_lb_listener.https.arn
}

output "public_rule_arn" {
  description = "ARN of the HTTPS listener's rule that forwards public_paths to the target group."
  value       = aws_lb_listener_rule.public.arn
}

output "public_paths" {
  description = "Path patterns the HTTPS listener forwards to the gateway (sorted), as the rule holds them; every other path gets the load balancer's 404."
  value       = sort(one(one(aws_lb_listener_rule.public.condition).path_pattern).values)
}

output "http_listener_arn" {
  description = "ARN of the HTTP listener (redirects to HTTPS)."
  value       = aws_lb_listener.http.arn
}

output "idle_timeout" {
  description = "Idle timeout of the load balancer in seconds, as applied."
  value       = aws_lb.this.idle_timeout
}

output "deregistration_delay" {
  description = "Deregistration delay of the target group in seconds, as the target group holds it."
  value       = tonumber(aws_lb_target_group.this.deregistration_delay)
}
