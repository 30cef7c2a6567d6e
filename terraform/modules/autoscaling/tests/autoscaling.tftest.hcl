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
      aws_cloudwatch_metric_alarm.requests_high.threshold == 3000 &&
      aws_cloudwatch_metric_alarm.requests_low.threshold == 600
    )
    error_message = "The step alarms must watch the target group's RequestCountPerTarget."
  }

  assert {
    condition     = [for s in one(aws_appautoscaling_policy.requests_out.step_scaling_policy_configuration).step_adjustment : s.scaling_adjustment] == [1, 2, 4] || toset([for s in one(aws_appautoscaling_policy.requests_out.step_scaling_policy_configuration).step_adjustment : s.scaling_adjustment]) == toset([1, 2, 4])
    error_message = "Scale-out must add 1, 2 or 4 tasks by how far the load is above the threshold."
  }

  assert {
    condition     = [for s in one(aws_appautoscaling_policy.requests_in.step_scaling_policy_configuration).step_adjustment : s.scaling_adjustment] == [-1]
    error_message = "Scale-in must remove one task at a time."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.requests_low.treat_missing_data == "breaching" && aws_cloudwatch_metric_alarm.requests_high.treat_missing_data == "notBreaching"
    error_message = "An idle target group reports no RequestCountPerTarget: that must count as low load (scale in), never as high."
  }

  assert {
    condition     = one(aws_appautoscaling_policy.requests_out.step_scaling_policy_configuration).cooldown == 60 && one(aws_appautoscaling_policy.requests_in.step_scaling_policy_configuration).cooldown == 300
    error_message = "Step policies must have cooldowns."
  }
}

run "low_threshold_above_high_is_refused" {
  command = plan

  variables {
    requests_per_target_low  = 5000
    requests_per_target_high = 1000
  }

  expect_failures = [var.requests_per_target_low]
}
