"""Executable runbooks: runbooks/*.md parsed into steps that opsctl runs and records.

model.py    the markdown format: front matter, the six sections, ```step blocks
actions.py  every step's action: read-only `diagnose` actions and `remediate` actions
runner.py   walking a runbook: confirmations, the environment lock, the incident timeline
"""
