# Offline tests of the autoscaling module (mock AWS provider): bounds used as given, step scaling
# on the ALB's requests per task, target tracking on CPU, cooldowns.

mock_provider "aws" {}

variables {
  name                    = "mcpgw"
  cluster_name            = "mcpgw"
  service_name            = "mcpgw"
  alb_arn_suffix          = "app/mcpgw/0123456789abcdef"
  target_group_arn_suffix = "targetgroup/mcpgw/fedcba9876543210"
}

run "bounds_are_taken_as_given" {
  command = plan

  variables {
    min_capacity = 3
    max_capacity = 7
  }

  assert {
    condition     = aws_appautoscaling_target.this.min_capacity == 3 && aws_appautoscaling_target.this.max_capacity == 7
    error_message = "min and max capacity must be used exactly as given, never clamped."
  }

  assert {
    condition     = aws_appautoscaling_target.this.resource_id == "service/mcpgw/mcpgw" && aws_appautoscaling_target.this.scalable_dimension == "ecs:service:DesiredCount" && aws_appautoscaling_target.this.service_namespace == "ecs"
    error_message = "The scalable target must be the ECS service's desired count."
  }
}

run "min_of_one_is_not_raised" {
  command = plan

  variables {
    min_capacity = 1
    max_capacity = 1
  }

  assert {
    condition     = aws_appautoscaling_target.this.min_capacity == 1 && aws_appautoscaling_target.this.max_capacity == 1
    error_message = "A fixed size of one task must stay one task."
  }
}

run "max_below_min_is_refused" {
  command = plan

  variables {
    min_capacity = 5
    max_capacity = 2
  }

  expect_failures = [var.max_capacity]
}

run "cpu_target_tracking" {
  command = plan

  assert {
    condition     = aws_appautoscaling_policy.cpu.policy_type == "TargetTrackingScaling"
    error_message = "CPU must be scaled by target tracking."
  }

  assert {
    condition = (
      one(aws_appautoscaling_policy.cpu.target_tracking_scaling_policy_configuration).target_value == 60 &&
      one(one(aws_appautoscaling_policy.cpu.target_tracking_scaling_policy_configuration).predefined_metric_specification).predefined_metric_type == "ECSServiceAverageCPUUtilization"
    )
    error_message = "Target tracking must hold average service CPU at 60%."
  }

  assert {
    condition = (
      one(aws_appautoscaling_policy.cpu.target_tracking_scaling_policy_configuration).scale_in_cooldown == 300 &&
      one(aws_appautoscaling_policy.cpu.target_tracking_scaling_policy_configuration).scale_out_cooldown == 60
    )
    error_message = "Target tracking must have cooldowns (300 s in, 60 s out)."
  }
}

run "step_scaling_on_alb_requests_per_task" {
  command = plan

  assert {
    condition     = aws_appautoscaling_policy.requests_out.policy_type == "StepScaling" && aws_appautoscaling_policy.requests_in.policy_type == "StepScaling"
    error_message = "Requests must be scaled by step scaling."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.requests_high.namespace == "AWS/ApplicationELB" &&
      aws_cloudwatch_metric_alarm.requests_high.metric_name == "RequestCountPerTarget" &&
      aws_cloudwatch_metric_alarm.requests_high.dimensions == tomap({ LoadBalancer = var.alb_arn_suffix, TargetGroup = var.target_group_arn_suffix }) &&
      aws_cloudwatch_metric_alarm.requests_high.threshold == 3000
    )
    error_message = "The scale-out alarm must watch the target group's RequestCountPerTarget against requests_per_target_high."
  }

  assert {
    condition     = [for s in one(aws_appautoscaling_policy.requests_out.step_scaling_policy_configuration).step_adjustment : s.scaling_adjustment] == [1, 2, 4] || toset([for s in one(aws_appautoscaling_policy.requests_out.step_scaling_policy_configuration).step_adjustment : s.scaling_adjustment]) == toset([1, 2, 4])
    error_message = "Scale-out must add 1, 2 or 4 tasks by how far the load is above the threshold."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.requests_high.treat_missing_data == "notBreaching"
    error_message = "An idle target group reports no RequestCountPerTarget: that must never count as high load."
  }

  assert {
    condition     = one(aws_appautoscaling_policy.requests_out.step_scaling_policy_configuration).cooldown == 60 && one(aws_appautoscaling_policy.requests_in.step_scaling_policy_configuration).cooldown == 300
    error_message = "Step policies must have cooldowns."
  }
}

# Scale out on either signal, scale in only on both: target tracking and step scaling act
# independently, and a scale-in on one signal alone would fight a scale-out on the other.
run "only_the_gated_policy_scales_in" {
  command = plan

  assert {
    condition     = one(aws_appautoscaling_policy.cpu.target_tracking_scaling_policy_configuration).disable_scale_in == true
    error_message = "CPU target tracking must not scale in on its own (it would fight step scaling on requests)."
  }

  assert {
    condition     = alltrue([for s in one(aws_appautoscaling_policy.requests_out.step_scaling_policy_configuration).step_adjustment : s.scaling_adjustment > 0])
    error_message = "The scale-out policy must only add tasks."
  }

  assert {
    condition = [for s in one(aws_appautoscaling_policy.requests_in.step_scaling_policy_configuration).step_adjustment :
      "[${s.metric_interval_lower_bound}, ${coalesce(s.metric_interval_upper_bound, "+inf")}) ${s.scaling_adjustment}"
    ] == ["[0, +inf) -1"]
    error_message = "Scale-in must remove one task at a time, whenever its alarm (1 when both signals are low, threshold 1) is in alarm."
  }
}

run "scale_in_alarm_needs_low_requests_and_low_cpu" {
  command = plan

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.requests_low.comparison_operator == "GreaterThanOrEqualToThreshold" &&
      aws_cloudwatch_metric_alarm.requests_low.threshold == 1 &&
      aws_cloudwatch_metric_alarm.requests_low.evaluation_periods == 10 &&
      aws_cloudwatch_metric_alarm.requests_low.metric_name == null
    )
    error_message = "The scale-in alarm must fire on its metric-math value reaching 1, after 10 minutes."
  }

  assert {
    condition     = one([for q in aws_cloudwatch_metric_alarm.requests_low.metric_query : q.expression if q.return_data == true]) == "IF(FILL(requests, 0) <= 600 AND cpu <= 30, 1, 0)"
    error_message = "The scale-in alarm must be 1 only while requests per task (none counting as 0) are at most 600/min AND CPU is at most half of cpu_target."
  }

  assert {
    condition = [for q in aws_cloudwatch_metric_alarm.requests_low.metric_query : [
      for m in q.metric : [m.namespace, m.metric_name, m.stat, tostring(m.period), m.dimensions["LoadBalancer"], m.dimensions["TargetGroup"], tostring(length(m.dimensions))]
    ] if q.id == "requests"] == [[["AWS/ApplicationELB", "RequestCountPerTarget", "Sum", "60", var.alb_arn_suffix, var.target_group_arn_suffix, "2"]]]
    error_message = "The requests term must be the target group's RequestCountPerTarget, summed per minute."
  }

  assert {
    condition = [for q in aws_cloudwatch_metric_alarm.requests_low.metric_query : [
      for m in q.metric : [m.namespace, m.metric_name, m.stat, tostring(m.period), m.dimensions["ClusterName"], m.dimensions["ServiceName"], tostring(length(m.dimensions))]
    ] if q.id == "cpu"] == [[["AWS/ECS", "CPUUtilization", "Average", "60", "mcpgw", "mcpgw", "2"]]]
    error_message = "The CPU term must be this service's average CPUUtilization."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.requests_low.treat_missing_data == "notBreaching"
    error_message = "No data at all (no task reporting CPU) must not remove a task."
  }
}

run "scale_in_cpu_threshold_follows_the_target" {
  command = plan

  variables {
    cpu_target = 70
  }

  assert {
    condition     = output.scale_in_cpu_below == 35 && strcontains(one([for q in aws_cloudwatch_metric_alarm.requests_low.metric_query : q.expression if q.return_data == true]), "cpu <= 35,")
    error_message = "By default a task is removed only at or below half of cpu_target."
  }
}

run "low_threshold_above_half_the_high_is_refused" {
  command = plan

  variables {
    requests_per_target_low  = 2000
    requests_per_target_high = 3000
  }

  expect_failures = [var.requests_per_target_low]
}

run "scale_in_cpu_above_half_the_target_is_refused" {
  command = plan

  variables {
    scale_in_cpu_below = 40
  }

  expect_failures = [var.scale_in_cpu_below]
}

run "low_threshold_above_high_is_refused" {
  command = plan

  variables {
    requests_per_target_low  = 5000
    requests_per_target_high = 1000
  }

  expect_failures = [var.requests_per_target_low]
}
