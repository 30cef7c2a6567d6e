# Autoscaling of the gateway service: target tracking on CPU, and step scaling on the ALB's
# requests per task (the load a prefork pool actually feels). Min and max are used as given.

locals {
  resource_id = "service/${var.cluster_name}/${var.service_name}"
}

resource "aws_appautoscaling_target" "this" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = local.resource_id
  min_capacity       = var.min_capacity
  max_capacity       = var.max_capacity

  tags = var.tags
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${var.name}-cpu-target"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.cpu_target
    scale_in_cooldown  = var.scale_in_cooldown
    scale_out_cooldown = var.scale_out_cooldown

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

# Step adjustments are relative to the alarm threshold: [0, 0.5T) -> +1, [0.5T, 2T) -> +2, >= 2T -> +4.
resource "aws_appautoscaling_policy" "requests_out" {
  name               = "${var.name}-requests-out"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = var.scale_out_cooldown
    metric_aggregation_type = "Average"

    step_adjustment {
      metric_interval_lower_bound = 0
      metric_interval_upper_bound = var.requests_per_target_high * 0.5
      scaling_adjustment          = 1
    }

    step_adjustment {
      metric_interval_lower_bound = var.requests_per_target_high * 0.5
      metric_interval_upper_bound = var.requests_per_target_high * 2
      scaling_adjustment          = 2
    }

    step_adjustment {
      metric_interval_lower_bound = var.requests_per_target_high * 2
      scaling_adjustment          = 4
    }
  }
}

resource "aws_appautoscaling_policy" "requests_in" {
  name               = "${var.name}-requests-in"
  policy_type        = "StepScaling"
  service_namespace  = aws_appautoscaling_target.this.service_namespace
  scalable_dimension = aws_appautoscaling_target.this.scalable_dimension
  resource_id        = aws_appautoscaling_target.this.resource_id

  step_scaling_policy_configuration {
    adjustment_type         = "ChangeInCapacity"
    cooldown                = var.scale_in_cooldown
    metric_aggregation_type = "Average"

    step_adjustment {
      metric_interval_upper_bound = 0
      scaling_adjustment          = -1
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "requests_high" {
  alarm_name          = "${var.name}-requests-per-task-high"
  alarm_description   = "Requests per task above ${var.requests_per_target_high}/min: add tasks"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "RequestCountPerTarget"
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = var.scale_out_evaluation_periods
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.requests_per_target_high
  treat_missing_data  = "notBreaching"
  dimensions = {
    LoadBalancer = var.alb_arn_suffix
    TargetGroup  = var.target_group_arn_suffix
  }
  alarm_actions = [aws_appautoscaling_policy.requests_out.arn]

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "requests_low" {
  alarm_name          = "${var.name}-requests-per-task-low"
  alarm_description   = "Requests per task below ${var.requests_per_target_low}/min: remove a task"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "RequestCountPerTarget"
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = var.scale_in_evaluation_periods
  comparison_operator = "LessThanOrEqualToThreshold"
  threshold           = var.requests_per_target_low
  treat_missing_data  = "breaching" # no requests at all is the lowest load there is
  dimensions = {
    LoadBalancer = var.alb_arn_suffix
    TargetGroup  = var.target_group_arn_suffix
  }
  alarm_actions = [aws_appautoscaling_policy.requests_in.arn]

  tags = var.tags
}
