output "secret_arns" {
  description = "Map of secret key (e.g. `api-keys`) to the secret's ARN. ARNs only, never values."
  value       = { for key, secret in aws_secretsmanager_secret.this : key => secret.arn }
}

output "secret_names" {
  description = "Map of secret key to the secret's full name (`<name>/<key>`), for `aws secretsmanager put-secret-value --secret-id`."
  value       = { for key, secret in aws_secretsmanager_secret.this : key => secret.name }
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the secrets (give it to the security module's `kms_key_arns`)."
  value       = module.kms.arn
}
