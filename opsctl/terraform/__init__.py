"""Terraform: render environments, run terraform, summarise plans, check and document modules."""
