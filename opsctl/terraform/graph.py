"""An architecture picture of one environment (graphviz DOT, rendered to SVG by `dot`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from opsctl.config import Environment


def dot_source(env: Environment) -> str:
    n, db, compute = env.network.az_count, env.database, env.compute
    nat = f"{n} NAT gateways (one per AZ)" if env.network.nat_mode == "per_az" else "1 NAT gateway"
    colour = (
        f"{compute.instance_type}, {compute.min_size}-{compute.max_size} instances\\n"
        "nginx -> uvicorn API + worker"
    )
    return f"""digraph "ingest-{env.name}" {{
  graph [rankdir=LR, fontname="Helvetica", fontsize=11, label="ingest-{env.name}: \
{env.region}, account {env.account_id}", labelloc=t];
  node [shape=box, style="rounded,filled", fillcolor="#f5f5f5", fontname="Helvetica", fontsize=10];
  edge [fontname="Helvetica", fontsize=9];

  clients [label="clients\\n(HTTPS)", shape=oval];
  subgraph cluster_vpc {{
    label="VPC {env.network.cidr} across {n} AZs"; style=rounded;
    subgraph cluster_public {{
      label="public subnets x{n}"; style=dashed;
      alb [label="ALB\\n:443 TLS 1.2+/1.3, :80 -> 301\\nweighted forward", fillcolor="#dbeafe"];
      nat [label="{nat}"];
    }}
    subgraph cluster_app {{
      label="private (app) subnets x{n}"; style=dashed;
      blue [label="ASG blue\\n{colour}", fillcolor="#bfdbfe"];
      green [label="ASG green\\n{colour}", fillcolor="#bbf7d0"];
    }}
    subgraph cluster_db {{
      label="database subnets x{n} (3306 from app only)"; style=dashed;
      aurora [label="Aurora Serverless v2 MySQL 8.0\\n{db.instance_count} instance(s), \
{db.min_acu:g}-{db.max_acu:g} ACU", shape=cylinder, fillcolor="#fde68a"];
    }}
  }}
  s3 [label="S3 ingest bucket\\n(KMS, versioned)", shape=folder];
  sqs [label="SQS ingest queue\\n+ DLQ", shape=cds];
  secrets [label="Secrets Manager\\n(API keys, DB password)"];
  alarms [label="CloudWatch alarms\\n(tagged with runbooks) + dashboard"];
  sns [label="SNS alarm topic\\n{len(env.alarms.emails)} e-mail subscriber(s)"];
  budget [label="AWS Budgets\\n${env.budget.monthly_usd}/month"];
  config [label="AWS Config\\nrecorder + rules"];
  ssm [label="SSM Parameter Store\\nlive colour (opsctl)"];

  clients -> alb;
  alb -> blue [label="weight"];
  alb -> green [label="weight"];
  blue -> aurora; green -> aurora;
  s3 -> sqs [label="ObjectCreated"];
  sqs -> blue [label="worker", style=dashed];
  sqs -> green [style=dashed];
  blue -> secrets [style=dotted]; green -> secrets [style=dotted];
  blue -> nat [label="AWS APIs", style=dotted];
  blue -> alarms [label="EMF metrics", style=dotted];
  alarms -> sns; budget -> sns;
  ssm -> alb [label="opsctl bluegreen", style=dotted];
}}
"""


def render_svg(env: Environment, output: Path) -> None:
    dot = shutil.which("dot")
    if dot is None:
        raise FileNotFoundError("graphviz `dot` is not installed (make setup installs it)")
    output.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([dot, "-Tsvg", "-o", str(output)], input=dot_source(env), text=True, check=True)
