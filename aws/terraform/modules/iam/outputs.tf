output "app_role_arn" {
  description = "Role of the platform's service account (chart value serviceAccount.annotations eks.amazonaws.com/role-arn)."
  value       = aws_iam_role.app.arn
}

output "cert_manager_role_arn" {
  description = "Role of cert-manager's service account, for DNS-01 challenges in Route53."
  value       = aws_iam_role.cert_manager.arn
}

output "github_actions_role_arn" {
  description = "Role the build and deploy workflows assume (repository variable AWS_ROLE_ARN)."
  value       = aws_iam_role.github_actions.arn
}
