"""envs/<ENV>.yaml: the per-environment settings, validated by pydantic before anything renders."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from opsctl.paths import REPO

# Overridable so tests (and experiments) can use a copy of the env files.
ENVS_DIR = Path(os.environ.get("OPSCTL_ENVS_DIR") or REPO / "envs")
ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{1,15}$")


class ConfigError(Exception):
    """One line per problem: `envs/prod.yaml: network.az_count: must be ..., got 1`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.IPv4Network(value, strict=True))
    except ValueError as error:
        raise ValueError(f"must be an IPv4 network such as 10.0.0.0/16 ({error})") from None


class State(Strict):
    bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]


class Network(Strict):
    cidr: str
    az_count: Annotated[int, Field(ge=2, le=6)]
    nat_mode: Literal["per_az", "single"] = "per_az"
    flow_log_retention_days: Annotated[int, Field(ge=1, le=3653)] = 365
    # Issue 16, finding 19: S3 gateway + interface endpoints for the APIs the instances call
    # (off by default: interface endpoints bill per AZ and hour; staging and prod turn it on).
    vpc_endpoints: bool = False

    @field_validator("cidr")
    @classmethod
    def _valid_cidr(cls, value: str) -> str:
        cidr = _cidr(value)
        prefix = ipaddress.IPv4Network(cidr).prefixlen
        if not 16 <= prefix <= 21:
            raise ValueError(f"prefix must be /16 to /21 so it can hold every tier, got /{prefix}")
        return cidr


class Compute(Strict):
    instance_type: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")]
    ami_id: Annotated[str, Field(pattern=r"^ami-[0-9a-f]{8,17}$")]
    min_size: Annotated[int, Field(ge=0, le=100)]
    max_size: Annotated[int, Field(ge=1, le=100)]
    desired_capacity: Annotated[int, Field(ge=0, le=100)]
    # Accounts besides account_id whose AMIs `opsctl bluegreen deploy` accepts (e.g. a
    # shared build account). Any other owner, public images included, is refused.
    ami_owners: list[Annotated[str, Field(pattern=r"^\d{12}$")]] = []

    @model_validator(mode="after")
    def _sizes(self) -> Compute:
        if not self.min_size <= self.desired_capacity <= self.max_size:
            raise ValueError(
                "need min_size <= desired_capacity <= max_size, got "
                f"{self.min_size} / {self.desired_capacity} / {self.max_size}"
            )
        return self


class Database(Strict):
    min_acu: Annotated[float, Field(ge=0, le=256, multiple_of=0.5)]
    max_acu: Annotated[float, Field(ge=1, le=256, multiple_of=0.5)]
    instance_count: Annotated[int, Field(ge=1, le=16)]
    backup_retention_days: Annotated[int, Field(ge=1, le=35)]
    deletion_protection: bool
    # Issue 16, finding 11: its own setting, not the inverse of deletion_protection (which must
    # be off to destroy at all). None: skipped only in throw-away envs (local, dev).
    skip_final_snapshot: bool | None = None

    @model_validator(mode="after")
    def _acu(self) -> Database:
        if self.max_acu < self.min_acu:
            raise ValueError(f"max_acu ({self.max_acu}) is below min_acu ({self.min_acu})")
        return self


class Secrets(Strict):
    # Days a deleted secret stays restorable (and its name taken): 0 deletes at once, for
    # throw-away environments that are destroyed and re-applied.
    recovery_window_days: int = 30

    @field_validator("recovery_window_days")
    @classmethod
    def _window(cls, days: int) -> int:
        if days != 0 and not 7 <= days <= 30:
            raise ValueError(f"must be 0 or 7-30, got {days}")
        return days


class RoutingRule(Strict):
    """A host/path rule on the HTTPS listener: pinned to a colour, or `weighted` (it follows the
    blue/green weights opsctl sets, like the default action)."""

    priority: Annotated[int, Field(ge=1, le=50000)]
    host_headers: list[str] = []
    path_patterns: list[str] = []
    target: Literal["blue", "green", "weighted"]

    @model_validator(mode="after")
    def _conditions(self) -> RoutingRule:
        values = len(self.host_headers) + len(self.path_patterns)
        if not 1 <= values <= 5:
            raise ValueError(
                f"needs 1-5 values across host_headers and path_patterns, got {values}"
            )
        return self


class LoadBalancer(Strict):
    # Exactly one of domain_name (a certificate is requested) and certificate_arn (issue 16,
    # finding 8: an env that brings its own certificate needs no domain_name).
    domain_name: Annotated[str | None, Field(pattern=r"^([a-z0-9-]+\.)+[a-z]{2,}$")] = None
    certificate_arn: Annotated[str | None, Field(pattern=r"^arn:aws[a-z-]*:acm:")] = None
    route53_zone_id: Annotated[str | None, Field(pattern=r"^Z[A-Z0-9]{1,32}$")] = None
    deletion_protection: bool = True
    allowed_cidrs: list[str] = ["0.0.0.0/0"]
    routing_rules: list[RoutingRule] = []

    @model_validator(mode="after")
    def _one_certificate_source(self) -> LoadBalancer:
        if (self.domain_name is None) == (self.certificate_arn is None):
            raise ValueError("set exactly one of domain_name and certificate_arn")
        return self

    @field_validator("allowed_cidrs")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        return [_cidr(v) for v in values]

    @field_validator("routing_rules")
    @classmethod
    def _unique_priorities(cls, rules: list[RoutingRule]) -> list[RoutingRule]:
        priorities = [r.priority for r in rules]
        repeated = sorted({p for p in priorities if priorities.count(p) > 1})
        if repeated:
            raise ValueError(f"priorities must be unique, repeated: {repeated}")
        return rules


class Alarms(Strict):
    emails: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")]]


class Budget(Strict):
    monthly_usd: Annotated[int, Field(ge=1)]


class ForceDestroy(Strict):
    """Issue 16, finding 1: which buckets `destroy` may empty. AWS writes into them by itself
    (ELBAccessLogTestFile, Config history), and a versioned bucket with objects cannot go."""

    log_buckets: bool | None = None  # None: on everywhere but prod
    ingest_bucket: bool = False  # the data: only when asked


class Features(Strict):
    """Switches for what the local emulator lacks: all on for real AWS (see envs/local.yaml)."""

    asg_notifications: bool = True
    budget: bool = True
    composite_alarm: bool = True
    custom_db_parameters: bool = True
    db_password_rotation: bool = True
    scaling_policies: bool = True
    tag_launch_templates: bool = True
    describe_sg_reference_rules: bool = True
    tls_only_bucket_policies: bool = True
    sqs_redrive_allow_policy: bool = True
    asg_wait_for_capacity: bool = True
    asg_instance_warmup: bool = True
    asg_instance_maintenance_policy: bool = True
    db_performance_insights: bool = True


class Environment(Strict):
    name: str
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")]
    account_id: Annotated[str, Field(pattern=r"^\d{12}$")]
    assume_role_arn: Annotated[str | None, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/")] = (
        None
    )
    emulator_url: Annotated[str | None, Field(pattern=r"^https?://")] = None
    state: State
    network: Network
    compute: Compute
    database: Database
    loadbalancer: LoadBalancer
    alarms: Alarms
    budget: Budget
    secrets: Secrets = Secrets()
    force_destroy: ForceDestroy = ForceDestroy()
    # Issue 16, finding 10: an account that already has a Config recorder (Control Tower,
    # organisation Config) names it here; only one is allowed per region.
    existing_config_recorder: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_.-]{1,256}$")] = (
        None
    )
    features: Features = Features()
    tags: dict[str, str] = {}

    @property
    def is_prod(self) -> bool:
        return self.name == "prod"

    @property
    def resource_name(self) -> str:
        """The name every module's resources start with (main.tf.j2's `local.name`)."""
        return f"ingest-{self.name}"

    @property
    def skip_final_snapshot(self) -> bool:
        chosen = self.database.skip_final_snapshot
        return self.name in ("local", "dev") if chosen is None else chosen

    @property
    def force_destroy_log_buckets(self) -> bool:
        chosen = self.force_destroy.log_buckets
        return not self.is_prod if chosen is None else chosen


def certificate_wait(env: Environment) -> str | None:
    """Issue 16, finding 9: why applying `env` would wait on certificate validation, or None.

    A certificate requested for domain_name is DNS-validated; without route53_zone_id nobody
    writes the validation records, and the apply waits for them (aws_acm_certificate_validation,
    75 minutes by default) before it fails. The emulator issues certificates at once, so an env
    with an emulator_url (local) never waits.
    """
    lb = env.loadbalancer
    if lb.domain_name is None or lb.route53_zone_id or lb.certificate_arn or env.emulator_url:
        return None
    return (
        f"{env_file(env.name).relative_to(ENVS_DIR.parent)}: loadbalancer: domain_name "
        f"{lb.domain_name} has no route53_zone_id, so apply would wait up to 75 minutes for DNS "
        "validation records nobody writes. Set loadbalancer.route53_zone_id (the hosted zone of "
        "the name; the module writes the records), or replace domain_name with "
        "loadbalancer.certificate_arn (an issued ACM certificate)."
    )


def env_file(name: str) -> Path:
    return ENVS_DIR / f"{name}.yaml"


def available() -> list[str]:
    return sorted(p.stem for p in ENVS_DIR.glob("*.yaml"))


def _bounds(loc: tuple[Any, ...]) -> tuple[Any, Any]:
    """The (ge, le) constraints of the field at `loc`, to say "between 2 and 6"."""
    model: type[BaseModel] = Environment
    field = None
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None:
            return None, None
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            model = field.annotation
    metadata = field.metadata if field else []
    ge = next((m.ge for m in metadata if hasattr(m, "ge")), None)
    le = next((m.le for m in metadata if hasattr(m, "le")), None)
    return ge, le


def _describe(error: dict[str, Any]) -> str:
    kind, ctx, given = error["type"], error.get("ctx", {}), error.get("input")
    if kind in ("greater_than_equal", "less_than_equal"):
        ge, le = _bounds(error["loc"])
        if ge is not None and le is not None:
            return f"must be between {ge} and {le}, got {given!r}"
    messages = {
        "missing": "is required",
        "extra_forbidden": "is not a known key",
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "string_pattern_mismatch": f"must match {ctx.get('pattern')}",
        "literal_error": f"must be one of {ctx.get('expected')}",
        "multiple_of": f"must be a multiple of {ctx.get('multiple_of')}",
        "string_type": "must be a string",
        "bool_parsing": "must be true or false",
        "bool_type": "must be true or false",
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "float_parsing": "must be a number",
        "float_type": "must be a number",
        "list_type": "must be a list",
        "dict_type": "must be a mapping",
        "model_type": "must be a mapping",
    }
    text = messages.get(kind, error["msg"].removeprefix("Value error, "))
    if kind in ("missing", "extra_forbidden"):
        return text
    return f"{text}, got {given!r}" if not isinstance(given, dict | list) else text


def load(name: str, path: Path | None = None) -> Environment:
    """Read and validate one environment; ConfigError lists every problem found."""
    path = path or env_file(name)
    label = path.relative_to(ENVS_DIR.parent) if path.is_relative_to(ENVS_DIR.parent) else path
    if not ENV_NAME.match(name):
        raise ConfigError([f"{name!r}: environment names are lowercase letters, digits and -"])
    if not path.exists():
        known = ", ".join(available()) or "none"
        raise ConfigError([f"{label}: no such environment file (known: {known})"])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError([f"{label}: not valid YAML: {error}"]) from None
    if not isinstance(raw, dict):
        raise ConfigError([f"{label}: must be a mapping of settings"])
    if "name" in raw:
        raise ConfigError([f"{label}: name: is not a known key (the file name is the name)"])
    try:
        environment = Environment.model_validate({**raw, "name": name})
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or "(top level)"
            problems.append(f"{label}: {where}: {_describe(dict(item))}")
        raise ConfigError(problems) from None
    cidr = environment.network.cidr
    problems = [
        f"{label}: network.cidr: {cidr} {o}"
        for o in _overlapping_cidrs(name, ipaddress.IPv4Network(cidr))
    ]
    if environment.is_prod and environment.secrets.recovery_window_days == 0:
        problems.append(
            f"{label}: secrets.recovery_window_days: prod keeps deleted secrets restorable (7-30)"
        )
    if problems:
        raise ConfigError(problems)
    return environment


def _overlapping_cidrs(name: str, cidr: ipaddress.IPv4Network) -> list[str]:
    """Environments get disjoint VPC ranges so they can be peered or reached over one VPN."""
    found = []
    for other in available():
        if other == name:
            continue
        try:
            raw = yaml.safe_load(env_file(other).read_text(encoding="utf-8"))
            theirs = ipaddress.IPv4Network(raw["network"]["cidr"])
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError):
            continue  # that file's own problems are reported when it is loaded
        if cidr.overlaps(theirs):
            found.append(f"overlaps {ENVS_DIR.name}/{other}.yaml's {theirs}")
    return found
