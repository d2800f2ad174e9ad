"""What a runbook step can do. Each action is an AWS call (or an opsctl operation) that opsctl
makes itself, so a runbook never asks an operator to paste commands.

`diagnose` actions only read; `remediate` actions change something and are asked for first.
An action returns its output as text; it raises ActionSkipped when the environment has nothing
for it to look at (e.g. no budget on the emulator) and any other exception when it fails.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from opsctl import aws
from opsctl.bluegreen import COLOURS, other, record
from opsctl.bluegreen.connect import open_engine
from opsctl.bluegreen.engine import ListReport
from opsctl.bluegreen.stack import StackError, read_outputs
from opsctl.lock import whoami
from opsctl.migrate import remote

if TYPE_CHECKING:
    from opsctl.bluegreen.engine import Engine
    from opsctl.config import Environment


class ActionSkipped(Exception):
    """Nothing to do here in this environment (the reason is recorded)."""


class ActionError(Exception):
    """The action could not run; the message says why."""


@dataclass
class Context:
    env: Environment
    emulator_url: str | None
    operator: str = ""  # the STS caller identity, once known
    _clients: dict[str, Any] = field(default_factory=dict)
    _outputs: dict[str, Any] | None = None
    _engine: Engine | None = None

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = aws.client(
                service, self.env.region, self.emulator_url, role_arn=self.env.assume_role_arn
            )
        return self._clients[service]

    @property
    def outputs(self) -> dict[str, Any]:
        """The environment's Terraform outputs, read from its state object in S3."""
        if self._outputs is None:
            holder = type("S3Holder", (), {"s3": self.client("s3")})()
            try:
                self._outputs = read_outputs(
                    cast(Any, holder), self.env.state.bucket, self.env.name
                )
            except StackError as error:
                raise ActionError(str(error)) from None
        return self._outputs

    def output(self, name: str) -> Any:
        value = self.outputs.get(name)
        if value in (None, "", {}, []):
            raise ActionError(f"{self.env.name}'s state has no output {name}")
        return value

    @property
    def prefix(self) -> str:
        return f"ingest-{self.env.name}"

    def engine(self) -> Engine:
        """bluegreen's engine for this environment: the live colour, the fleet, rollback."""
        if self._engine is None:
            try:
                self._engine = open_engine(self.env, self.emulator_url, ListReport())
            except StackError as error:
                raise ActionError(str(error)) from None
        return self._engine

    def live(self) -> str:
        return self.engine().live()

    def colour(self, value: str | None) -> str:
        if value in (None, "live"):
            return self.live()
        if value == "idle":
            return other(self.live())
        if value not in COLOURS:
            raise ActionError(f"colour must be live, idle, blue or green, got {value!r}")
        return str(value)

    @property
    def asg_names(self) -> dict[str, str]:
        return dict(self.output("asg_names"))

    def group(self, colour: str) -> dict[str, Any]:
        name = self.asg_names[colour]
        found = self.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[name]
        )["AutoScalingGroups"]
        if not found:
            raise ActionError(f"Auto Scaling group {name} not found")
        return dict(found[0])


@dataclass(frozen=True)
class Action:
    name: str
    kind: str  # diagnose | remediate
    summary: str
    command: Callable[[Context, dict[str, Any]], str]  # what it runs, for the timeline
    run: Callable[[Context, dict[str, Any]], str]


ACTIONS: dict[str, Action] = {}


def action(
    name: str, kind: str, summary: str, command: Callable[[Context, dict[str, Any]], str]
) -> Callable[[Callable[[Context, dict[str, Any]], str]], Callable[[Context, dict[str, Any]], str]]:
    def register(
        fn: Callable[[Context, dict[str, Any]], str],
    ) -> Callable[[Context, dict[str, Any]], str]:
        ACTIONS[name] = Action(name, kind, summary, command, fn)
        return fn

    return register


def _since(minutes: int) -> tuple[datetime, datetime]:
    end = datetime.now(UTC)
    return end - timedelta(minutes=minutes), end


def _metric_max(
    ctx: Context, namespace: str, metric: str, dims: dict[str, str], minutes: int = 30
) -> str:
    start, end = _since(minutes)
    points = ctx.client("cloudwatch").get_metric_statistics(
        Namespace=namespace,
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=start,
        EndTime=end,
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    if not points:
        return f"{metric}: no datapoints in the last {minutes} min"
    latest = max(points, key=lambda p: p["Timestamp"])
    peak = max(p["Maximum"] for p in points)
    return f"{metric}: latest {latest['Maximum']:g}, max {peak:g} over {minutes} min"


# --- diagnose ---------------------------------------------------------------------------------
@action(
    "alarms",
    "diagnose",
    "State of the environment's alarms (all, or args.keys).",
    lambda ctx, a: f"cloudwatch describe-alarms --alarm-name-prefix {ctx.prefix}-",
)
def alarms(ctx: Context, args: dict[str, Any]) -> str:
    found = ctx.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{ctx.prefix}-")
    rows = found.get("MetricAlarms", []) + found.get("CompositeAlarms", [])
    keys = args.get("keys")
    if keys:
        rows = [r for r in rows if any(r["AlarmName"] == f"{ctx.prefix}-{k}" for k in keys)]
    if not rows:
        return "no alarms found"
    lines = []
    for r in sorted(rows, key=lambda r: (r["StateValue"] != "ALARM", r["AlarmName"])):
        reason = r.get("StateReason", "")
        if r["StateValue"] != "ALARM":  # only an alarm's reason (the datapoints) is worth reading
            reason = textwrap.shorten(reason, 80, placeholder="...")
        since = r.get("StateUpdatedTimestamp")
        when = f" since {since.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}" if since else ""
        lines.append(f"{r['AlarmName']}: {r['StateValue']}{when} ({reason})")
    return "\n".join(lines)


@action(
    "target-health",
    "diagnose",
    "Target health per colour (healthy / unhealthy and why).",
    lambda ctx, a: "elbv2 describe-target-health (blue and green target groups)",
)
def target_health(ctx: Context, args: dict[str, Any]) -> str:
    lines = []
    for colour, arn in sorted(dict(ctx.output("target_group_arns")).items()):
        described = ctx.client("elbv2").describe_target_health(TargetGroupArn=arn)
        states: dict[str, int] = {}
        bad = []
        for d in described["TargetHealthDescriptions"]:
            state = d["TargetHealth"]["State"]
            states[state] = states.get(state, 0) + 1
            if state != "healthy":
                reason = d["TargetHealth"].get("Reason", "")
                bad.append(f"{d['Target']['Id']} {state} {reason}".strip())
        counts = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "no targets"
        lines.append(f"{colour}: {counts}" + (f" ({'; '.join(bad)})" if bad else ""))
    return "\n".join(lines)


@action(
    "asg-status",
    "diagnose",
    "Each colour's capacity and instances (lifecycle, health).",
    lambda ctx, a: "autoscaling describe-auto-scaling-groups (blue and green)",
)
def asg_status(ctx: Context, args: dict[str, Any]) -> str:
    lines = []
    for colour in COLOURS:
        g = ctx.group(colour)
        instances = ", ".join(
            f"{i['InstanceId']} {i['LifecycleState']}/{i['HealthStatus']}" for i in g["Instances"]
        )
        lines.append(
            f"{colour}: min {g['MinSize']} max {g['MaxSize']} desired {g['DesiredCapacity']}; "
            f"{instances or 'no instances'}"
        )
    return "\n".join(lines)


@action(
    "bluegreen-status",
    "diagnose",
    "The live colour and the last blue/green action and deployment (SSM).",
    lambda ctx, a: f"ssm get-parameter /opsctl/{ctx.env.name}/bluegreen/state and deployment",
)
def bluegreen_status(ctx: Context, args: dict[str, Any]) -> str:

    ssm = ctx.client("ssm")
    state = record.load_state(ssm, ctx.env.name)
    deployment = record.load_deployment(ssm, ctx.env.name)
    lines = []
    if state:
        last = state.get("last_action") or {}
        lines.append(
            f"live {state.get('live')}, weights {state.get('weights')}; last action "
            f"{last.get('action')} at {last.get('at')} by {last.get('by')}"
        )
    else:
        lines.append("no blue/green state recorded (no deploy or switch yet)")
    if deployment:
        lines.append(
            f"last deployment {deployment.id}: {deployment.ami} to {deployment.target}, "
            f"{deployment.status} (step {deployment.step or '-'}), started {deployment.started_at}"
        )
    return "\n".join(lines)


# The service logs JSON lines with a "level" (service/logs.py); anything else in the group (a
# traceback printed before logging started, nginx's error log) counts when it names an error.
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
_ERROR_WORDS = re.compile(r"\b(error|crit|critical|alert|emerg|fatal|traceback)\b", re.IGNORECASE)
# Server-side prefilter (filter patterns are case-sensitive terms, `?` = any of them); the
# level check below is the exact one. moto ignores patterns it cannot parse, which is harmless.
_PREFILTER = " ".join(
    f"?{term}"
    for word in ("warning", "error", "critical", "crit", "alert", "emerg", "fatal", "traceback")
    for term in dict.fromkeys((word, word.capitalize(), word.upper()))
)


def is_log_problem(message: str, floor: str = "warning") -> bool:
    """True for a JSON line at `floor` or above, or a non-JSON line that names an error."""
    try:
        line = json.loads(message)
    except ValueError:
        line = None
    if isinstance(line, dict) and isinstance(line.get("level"), str):
        return _LEVELS.get(line["level"].lower(), 0) >= _LEVELS[floor]
    return bool(_ERROR_WORDS.search(message))


@action(
    "app-errors",
    "diagnose",
    "The last N lines at args.level (default warning) or above from the app's log group "
    "(args.lines, default 20; args.minutes, default 60).",
    lambda ctx, a: (
        f"logs filter-log-events (app log group, last {a.get('lines', 20)} "
        f"at {a.get('level', 'warning')} or above)"
    ),
)
def app_errors(ctx: Context, args: dict[str, Any]) -> str:
    groups = dict(ctx.output("log_group_names"))
    group = groups.get(str(args.get("log", "app")))
    if group is None:
        raise ActionError(f"no log group {args.get('log', 'app')!r} in {sorted(groups)}")
    floor = str(args.get("level", "warning")).lower()
    if floor not in _LEVELS:
        raise ActionError(f"level must be one of {', '.join(_LEVELS)}, got {floor!r}")
    wanted = int(args.get("lines", 20))
    minutes = int(args.get("minutes", 60))
    start, _ = _since(minutes)
    logs = ctx.client("logs")
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "logGroupName": group,
        "startTime": int(start.timestamp() * 1000),
        "filterPattern": _PREFILTER,
    }
    for _ in range(20):  # bounded: at most 20 pages
        page = logs.filter_log_events(**kwargs)
        events += page.get("events", [])
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    found = [
        e["message"].strip()
        for e in sorted(events, key=lambda e: e["timestamp"])
        if is_log_problem(e["message"], floor)
    ]
    if not found:
        return f"{group}: no lines at {floor} or above in the last {minutes} min"
    shown = found[-wanted:]
    return f"{group}: {len(found)} line(s) at {floor} or above, last {len(shown)}:\n" + "\n".join(
        shown
    )


def _cluster(ctx: Context) -> dict[str, Any]:
    endpoint = ctx.output("database_endpoint")
    clusters = ctx.client("rds").describe_db_clusters()["DBClusters"]
    for cluster in clusters:
        if cluster.get("Endpoint") == endpoint or endpoint.startswith(
            f"{cluster['DBClusterIdentifier']}."
        ):
            return dict(cluster)
    raise ActionError(f"no Aurora cluster with the endpoint {endpoint}")


@action(
    "aurora-status",
    "diagnose",
    "The Aurora cluster: status, writer and readers, capacity range.",
    lambda ctx, a: "rds describe-db-clusters (the cluster behind database_endpoint)",
)
def aurora_status(ctx: Context, args: dict[str, Any]) -> str:
    c = _cluster(ctx)
    members = ", ".join(
        f"{m['DBInstanceIdentifier']} ({'writer' if m['IsClusterWriter'] else 'reader'})"
        for m in c.get("DBClusterMembers", [])
    )
    scaling = c.get("ServerlessV2ScalingConfiguration") or {}
    capacity = f"; ACU {scaling.get('MinCapacity')}-{scaling.get('MaxCapacity')}" if scaling else ""
    return f"{c['DBClusterIdentifier']}: {c['Status']}; members {members or 'none'}{capacity}"


@action(
    "aurora-metrics",
    "diagnose",
    "Aurora CPU, connections, ACU utilisation and replica lag over the last 30 minutes.",
    lambda ctx, a: "cloudwatch get-metric-statistics AWS/RDS (CPU, connections, ACU, lag)",
)
def aurora_metrics(ctx: Context, args: dict[str, Any]) -> str:
    ident = _cluster(ctx)["DBClusterIdentifier"]
    dims = {"DBClusterIdentifier": ident}
    metrics = ("CPUUtilization", "DatabaseConnections", "ACUUtilization", "AuroraReplicaLag")
    return "\n".join(_metric_max(ctx, "AWS/RDS", m, dims) for m in metrics)


def _dlq_url(ctx: Context, queue_url: str) -> str | None:
    sqs = ctx.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
    policy = attributes.get("Attributes", {}).get("RedrivePolicy")
    if not policy:
        return None
    name = json.loads(policy)["deadLetterTargetArn"].rsplit(":", 1)[-1]
    return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])


def _depth(ctx: Context, url: str) -> dict[str, int]:
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    got = ctx.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=names)
    return {n: int(got.get("Attributes", {}).get(n, 0)) for n in names}


@action(
    "queue-status",
    "diagnose",
    "Ingest queue and DLQ depth, and the age of the oldest message.",
    lambda ctx, a: "sqs get-queue-attributes (queue and DLQ); cloudwatch AgeOfOldestMessage",
)
def queue_status(ctx: Context, args: dict[str, Any]) -> str:
    url = str(ctx.output("ingest_queue_url"))
    depth = _depth(ctx, url)
    name = url.rsplit("/", 1)[-1]
    lines = [
        f"{name}: {depth['ApproximateNumberOfMessages']} visible, "
        f"{depth['ApproximateNumberOfMessagesNotVisible']} in flight, "
        f"{depth['ApproximateNumberOfMessagesDelayed']} delayed",
        _metric_max(ctx, "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": name}),
    ]
    dlq = _dlq_url(ctx, url)
    if dlq:
        lines.append(
            f"{dlq.rsplit('/', 1)[-1]} (DLQ): {_depth(ctx, dlq)['ApproximateNumberOfMessages']} "
            "visible"
        )
    return "\n".join(lines)


@action(
    "dead-jobs",
    "diagnose",
    "The service's DeadJobs and QueueDepth metrics over the last hour.",
    lambda ctx, a: (
        f"cloudwatch get-metric-statistics {ctx.output('metric_namespace')} DeadJobs, QueueDepth"
    ),
)
def dead_jobs(ctx: Context, args: dict[str, Any]) -> str:
    namespace = str(ctx.output("metric_namespace"))
    dims = {str(k): str(v) for k, v in dict(args.get("dimensions") or {}).items()}
    return "\n".join(_metric_max(ctx, namespace, m, dims, 60) for m in ("DeadJobs", "QueueDepth"))


@action(
    "secret-status",
    "diagnose",
    "The database secret: rotation enabled, last rotated, version stages (stuck rotation).",
    lambda ctx, a: "secretsmanager describe-secret (database_secret_arn)",
)
def secret_status(ctx: Context, args: dict[str, Any]) -> str:
    arn = ctx.output("database_secret_arn")
    s = ctx.client("secretsmanager").describe_secret(SecretId=arn)
    stages = {v: ",".join(st) for v, st in (s.get("VersionIdsToStages") or {}).items()}
    pending = [v for v, st in stages.items() if "AWSPENDING" in st and "AWSCURRENT" not in st]
    lines = [
        f"{s['Name']}: rotation {'on' if s.get('RotationEnabled') else 'off'}, last rotated "
        f"{s.get('LastRotatedDate', 'never')}, last changed {s.get('LastChangedDate', '?')}",
        f"versions: {stages or 'none'}",
    ]
    if pending:
        lines.append(f"!! a rotation is stuck: version(s) {', '.join(pending)} only AWSPENDING")
    return "\n".join(lines)


@action(
    "budget-status",
    "diagnose",
    "This month's actual and forecast spend against the budget.",
    lambda ctx, a: "budgets describe-budgets",
)
def budget_status(ctx: Context, args: dict[str, Any]) -> str:
    if not ctx.env.features.budget:
        raise ActionSkipped(f"{ctx.env.name} has no budget (features.budget is off)")
    budgets = ctx.client("budgets").describe_budgets(AccountId=ctx.env.account_id)
    lines = []
    for b in budgets.get("Budgets", []):
        spend = b.get("CalculatedSpend", {})
        actual = spend.get("ActualSpend", {}).get("Amount", "?")
        forecast = spend.get("ForecastedSpend", {}).get("Amount", "?")
        limit = b.get("BudgetLimit", {}).get("Amount", "?")
        lines.append(f"{b['BudgetName']}: actual {actual}, forecast {forecast} of {limit} USD")
    return "\n".join(lines) or "no budgets found"


@action(
    "instance-status",
    "diagnose",
    "EC2 status checks of the live colour's instances and the group's recent activities.",
    lambda ctx, a: "ec2 describe-instance-status; autoscaling describe-scaling-activities",
)
def instance_status(ctx: Context, args: dict[str, Any]) -> str:
    colour = ctx.colour(args.get("colour"))
    group = ctx.group(colour)
    ids = [i["InstanceId"] for i in group["Instances"]]
    lines = []
    if ids:
        statuses = ctx.client("ec2").describe_instance_status(
            InstanceIds=ids, IncludeAllInstances=True
        )["InstanceStatuses"]
        for s in statuses:
            lines.append(
                f"{s['InstanceId']}: {s['InstanceState']['Name']}, system "
                f"{s.get('SystemStatus', {}).get('Status', '?')}, instance "
                f"{s.get('InstanceStatus', {}).get('Status', '?')}"
            )
    else:
        lines.append(f"{colour}: no instances")
    activities = ctx.client("autoscaling").describe_scaling_activities(
        AutoScalingGroupName=group["AutoScalingGroupName"], MaxRecords=5
    )["Activities"]
    lines += [f"activity: {a['StatusCode']} {a.get('Description', '')}" for a in activities]
    return "\n".join(lines)


# --- remediate --------------------------------------------------------------------------------
@action(
    "bluegreen-rollback",
    "remediate",
    "All traffic back to the previous colour (opsctl bluegreen rollback).",
    lambda ctx, a: f"opsctl bluegreen rollback {ctx.env.name}",
)
def bluegreen_rollback(ctx: Context, args: dict[str, Any]) -> str:

    result = ctx.engine().rollback(f"runbook ({whoami()})")
    if result.code != 0:
        raise ActionError(result.message)
    return result.message


@action(
    "asg-scale",
    "remediate",
    "Change a colour's desired capacity (args: colour live|idle|blue|green, add N or desired N).",
    lambda ctx, a: (
        f"autoscaling update-auto-scaling-group ({a.get('colour', 'live')}: "
        + (f"desired {a['desired']})" if "desired" in a else f"desired +{a.get('add', 1)})")
    ),
)
def asg_scale(ctx: Context, args: dict[str, Any]) -> str:
    colour = ctx.colour(args.get("colour"))
    g = ctx.group(colour)
    before = int(g["DesiredCapacity"])
    wanted = int(args["desired"]) if "desired" in args else before + int(args.get("add", 1))
    desired = max(min(wanted, int(g["MaxSize"])), 0)
    minimum = min(int(g["MinSize"]), desired)
    ctx.client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName=g["AutoScalingGroupName"], MinSize=minimum, DesiredCapacity=desired
    )
    capped = f" (capped at max {g['MaxSize']})" if desired != wanted else ""
    return f"{colour} ({g['AutoScalingGroupName']}): desired {before} -> {desired}{capped}"


@action(
    "aurora-failover",
    "remediate",
    "Fail the Aurora writer over to a reader (about 30 s of errors for writes).",
    lambda ctx, a: "rds failover-db-cluster",
)
def aurora_failover(ctx: Context, args: dict[str, Any]) -> str:
    c = _cluster(ctx)
    readers = [m for m in c.get("DBClusterMembers", []) if not m["IsClusterWriter"]]
    if not readers:
        raise ActionError(f"{c['DBClusterIdentifier']} has no reader to fail over to")
    ctx.client("rds").failover_db_cluster(DBClusterIdentifier=c["DBClusterIdentifier"])
    return f"failover of {c['DBClusterIdentifier']} started (target: a reader)"


@action(
    "redrive-dlq",
    "remediate",
    "Move messages from the DLQ back to the ingest queue (args.max, default 100).",
    lambda ctx, a: f"sqs receive (DLQ) -> send (queue) -> delete, at most {a.get('max', 100)}",
)
def redrive_dlq(ctx: Context, args: dict[str, Any]) -> str:
    url = str(ctx.output("ingest_queue_url"))
    dlq = _dlq_url(ctx, url)
    if dlq is None:
        raise ActionError("the ingest queue has no redrive policy (no DLQ)")
    sqs = ctx.client("sqs")
    limit, moved = int(args.get("max", 100)), 0
    while moved < limit:
        got = sqs.receive_message(
            QueueUrl=dlq, MaxNumberOfMessages=min(10, limit - moved), WaitTimeSeconds=0
        ).get("Messages", [])
        if not got:
            break
        for message in got:
            sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return f"moved {moved} message(s) from {dlq.rsplit('/', 1)[-1]} to {url.rsplit('/', 1)[-1]}"


@action(
    "retry-dead-jobs",
    "remediate",
    "Queue dead jobs again (ingest-service retry-dead on a live instance, via SSM).",
    lambda ctx, a: f"ssm send-command: ingest-service retry-dead --limit {a.get('limit', 100)}",
)
def retry_dead_jobs(ctx: Context, args: dict[str, Any]) -> str:

    target = remote.find_target(ctx.engine())
    line = (
        "systemd-run --wait --pipe --quiet --collect --uid=ingest --gid=ingest "
        "--property=EnvironmentFile=/etc/ingest/env --working-directory=/var/lib/ingest "
        f"{remote.SERVICE} retry-dead --limit {int(args.get('limit', 100))}"
    )
    outcome = remote.run(
        ctx.client("ssm"), target, [line], f"runbook retry-dead-jobs {ctx.env.name}"
    )
    if outcome.code or outcome.status != "Success":
        raise ActionError(f"{outcome.status} (exit {outcome.code}): {outcome.stderr.strip()}")
    return f"{target.instance_id}: {outcome.stdout.strip() or outcome.status}"


@action(
    "rotate-secret",
    "remediate",
    "Rotate the database secret now (Secrets Manager RotateSecret).",
    lambda ctx, a: "secretsmanager rotate-secret (database_secret_arn)",
)
def rotate_secret(ctx: Context, args: dict[str, Any]) -> str:
    arn = ctx.output("database_secret_arn")
    got = ctx.client("secretsmanager").rotate_secret(SecretId=arn)
    return f"rotation started: version {got.get('VersionId')}"


@action(
    "replace-instance",
    "remediate",
    "Mark an impaired instance unhealthy so its group replaces it (args.instance, default: "
    "the first instance failing a status check in the live colour).",
    lambda ctx, a: f"autoscaling set-instance-health {a.get('instance', '<impaired>')} Unhealthy",
)
def replace_instance(ctx: Context, args: dict[str, Any]) -> str:
    instance = args.get("instance")
    if not instance:
        group = ctx.group(ctx.colour(args.get("colour")))
        ids = [i["InstanceId"] for i in group["Instances"]]
        statuses = (
            ctx.client("ec2").describe_instance_status(InstanceIds=ids, IncludeAllInstances=True)[
                "InstanceStatuses"
            ]
            if ids
            else []
        )
        impaired = [
            s["InstanceId"]
            for s in statuses
            if s.get("SystemStatus", {}).get("Status") == "impaired"
            or s.get("InstanceStatus", {}).get("Status") == "impaired"
            or s["InstanceState"]["Name"] != "running"
        ]
        if not impaired:
            raise ActionError("no impaired instance found: name one with args.instance")
        instance = impaired[0]
    ctx.client("autoscaling").set_instance_health(
        InstanceId=instance, HealthStatus="Unhealthy", ShouldRespectGracePeriod=False
    )
    return f"{instance} marked Unhealthy: its group terminates and replaces it"
