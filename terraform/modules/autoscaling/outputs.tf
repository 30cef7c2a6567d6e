output "resource_id" {
  description = "Application Auto Scaling resource ID of the service (service/CLUSTER/SERVICE)."
  value       = aws_appautoscaling_target.this.resource_id
}

output "min_capacity" {
  description = "Fewest tasks, as applied."
  value       = aws_appautoscaling_target.this.min_capacity
}

output "max_capacity" {
  description = "Most tasks, as applied."
  value       = aws_appautoscaling_target.this.max_capacity
}

output "scale_in_cpu_below" {
  description = "CPU (%) at or below which, with low requests per task, a task is removed."
  value       = local.scale_in_cpu_below
}

output "cpu_policy_arn" {
  description = "ARN of the CPU target-tracking policy."
  value       = aws_appautoscaling_policy.cpu.arn
}

output "requests_scale_out_policy_arn" {
  description = "ARN of the step scale-out policy on requests per task."
  value       = aws_appautoscaling_policy.requests_out.arn
}

output "requests_scale_in_policy_arn" {
  description = "ARN of the step scale-in policy (requests per task and CPU both low): the only policy that removes tasks."
  value       = aws_appautoscaling_policy.requests_in.arn
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms driving the step policies."
  value       = [aws_cloudwatch_metric_alarm.requests_high.alarm_name, aws_cloudwatch_metric_alarm.requests_low.alarm_name]
}
