# Autoscaling of the gateway service: target tracking on CPU, and step scaling on the ALB's
# requests per task (the load a prefork pool actually feels). Min and max are used as given.
#
# Scale out on either signal; scale in only when both are low. The two kinds of policy act
# independently, so a scale-in driven by one signal alone would fight the other: target tracking
# removing tasks for low CPU while requests per task are high (a gateway mostly waits on its
# upstreams) makes step scaling add them back, and the reverse. So target tracking never scales
# in, and the one scale-in policy fires only when requests per task AND CPU are both low.

locals {
  resource_id = "service/${var.cluster_name}/${var.service_name}"

  # Removing one of n >= 2 tasks raises the per-task load by n/(n-1) <= 2: a scale-in from below
  # half of each scale-out threshold cannot by itself trigger a scale-out.
  scale_in_cpu_below = coalesce(var.scale_in_cpu_below, var.cpu_target / 2)
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
    # Scale-in is the requests_in policy's, gated on CPU as well (see the top of this file).
    disable_scale_in = true

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

# Fired by the both_low alarm, whose value is 1 while requests per task and CPU are both low:
# the breach is 1 - 1 = 0, hence the interval [0, +inf).
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
      metric_interval_lower_bound = 0
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
  alarm_name          = "${var.name}-requests-and-cpu-low"
  alarm_description   = "Requests per task at most ${var.requests_per_target_low}/min and CPU at most ${local.scale_in_cpu_below}%: remove a task"
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  evaluation_periods  = var.scale_in_evaluation_periods
  # No data at all (no task reports CPU) is no reason to remove one.
  treat_missing_data = "notBreaching"

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCountPerTarget"
      stat        = "Sum"
      period      = 60
      dimensions = {
        LoadBalancer = var.alb_arn_suffix
        TargetGroup  = var.target_group_arn_suffix
      }
    }
  }

  metric_query {
    id = "cpu"
    metric {
      namespace   = "AWS/ECS"
      metric_name = "CPUUtilization"
      stat        = "Average"
      period      = 60
      dimensions = {
        ClusterName = var.cluster_name
        ServiceName = var.service_name
      }
    }
  }

  # An idle target group reports no RequestCountPerTarget at all: FILL counts that as 0 requests.
  metric_query {
    id          = "both_low"
    label       = "1 while requests per task and CPU are both low"
    expression  = "IF(FILL(requests, 0) <= ${var.requests_per_target_low} AND cpu <= ${local.scale_in_cpu_below}, 1, 0)"
    return_data = true
  }

  alarm_actions = [aws_appautoscaling_policy.requests_in.arn]

  tags = var.tags
}
