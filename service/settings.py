"""The service's one settings object, read from INGEST_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service. `INGEST_<NAME>` sets `<name>` (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")

    # Where we run: `local` (the emulator), `dev`, `staging`, `prod`.
    env: str = "local"

    # Database: a URL, or (on AWS) an Aurora secret ARN + host from which the URL is built.
    database_url: str = "sqlite+aiosqlite:///./var/ingest.db"
    database_secret_arn: str | None = None
    database_host: str | None = None
    database_port: int = 3306
    database_name: str = "ingest"
    # The application's own database user (issue 16, finding 12). `ingest-service migrate`
    # connects as the master (database_secret_arn, or database_url) and makes sure this user
    # exists with SELECT, INSERT, UPDATE, DELETE on the schema and nothing else (no DDL, no
    # GRANT); everything else (serve, worker, api-key, retry-dead) connects as it. Unset: one
    # user for everything (the embedded SQLite default, single-user setups).
    database_app_user: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_]{1,32}$")
    # How the app user signs in: `iam` (Aurora's IAM database authentication: a token from
    # rds generate_db_auth_token, reused for 10 minutes (db.iam_token), over verified TLS) or
    # `password` (MariaDB, which has no AWSAuthenticationPlugin: local runs and tests).
    database_app_auth: Literal["iam", "password"] = "iam"
    database_app_password: SecretStr | None = None  # only with `password`
    # The CA bundle the server certificate is verified against (on the AMI the RDS global
    # bundle). Required with `iam`: the token travels as a clear-text password.
    database_ssl_ca: str | None = None
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=5, ge=0, le=200)
    db_pool_timeout: float = Field(default=3.0, gt=0)
    db_connect_timeout: int = Field(default=3, ge=1)
    # How long a request waits on the database before answering 503.
    db_request_timeout: float = Field(default=5.0, gt=0)
    health_timeout: float = Field(default=1.0, gt=0)
    health_cache_seconds: float = Field(default=0.1, ge=0)
    # Run migrations when the service starts (default: only on SQLite, the single-host default).
    auto_migrate: bool | None = None

    # API keys: hashed (sha256 hex). Locally from this variable as JSON
    # `[{"name": ..., "scope": "read|write", "sha256": ...}]`; on AWS from a Secrets Manager
    # secret with the same JSON; and always from the `api_keys` table (`api-key create`).
    api_keys: str | None = None
    api_keys_secret_arn: str | None = None
    secret_cache_seconds: float = Field(default=300.0, ge=0)

    # AWS: the emulator endpoint override (also honours AWS_ENDPOINT_URL) and region.
    aws_endpoint_url: str | None = None
    aws_region: str | None = None
    sqs_queue_url: str | None = None
    sqs_wait_seconds: int = Field(default=1, ge=0, le=20)

    # CloudWatch Embedded Metric Format.
    emf_environment: str = "Local"
    emf_namespace: str = "IngestService"
    emf_service_name: str = "ingest-service"
    metrics_interval_seconds: float = Field(default=60.0, gt=0)

    # Limits.
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_json_depth: int = Field(default=32, ge=2, le=512)
    max_records_per_batch: int = Field(default=100_000, ge=1)
    max_validation_errors: int = Field(default=100, ge=1)
    page_size: int = Field(default=100, ge=1, le=1000)
    group_commit_max: int = Field(default=256, ge=1)

    # Security.
    https_redirect: bool | None = None  # default: on everywhere but `local`
    access_log: bool = True

    # Worker.
    run_worker: bool = False  # `serve --with-worker` sets it: the worker runs inside the API
    worker_concurrency: int = Field(default=4, ge=1, le=64)
    lease_seconds: float = Field(default=30.0, gt=0)
    heartbeat_seconds: float = Field(default=10.0, gt=0)
    reaper_seconds: float = Field(default=5.0, gt=0)
    poll_seconds: float = Field(default=0.5, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    retry_base_seconds: float = Field(default=2.0, ge=0)
    retry_max_seconds: float = Field(default=300.0, ge=0)
    chunk_records: int = Field(default=2000, ge=1)
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    max_record_errors_kept: int = Field(default=1000, ge=0)

    @model_validator(mode="after")
    def _app_user(self) -> Settings:
        if self.database_app_user is None:
            return self
        if self.database_app_auth == "password" and self.database_app_password is None:
            raise ValueError("database_app_auth=password needs INGEST_DATABASE_APP_PASSWORD")
        if self.database_app_auth == "iam":
            if not self.database_ssl_ca:
                raise ValueError(
                    "IAM database authentication sends its token as a clear-text password: "
                    "TLS is required, set INGEST_DATABASE_SSL_CA to the RDS CA bundle"
                )
            if not self.database_host:
                raise ValueError("IAM database authentication needs INGEST_DATABASE_HOST")
        return self

    @property
    def iam_database_auth(self) -> bool:
        """The service signs in as database_app_user with IAM tokens (Aurora)."""
        return self.database_app_user is not None and self.database_app_auth == "iam"

    @property
    def is_sqlite(self) -> bool:
        return (
            self.database_url.startswith("sqlite")
            and not self.database_secret_arn
            and not self.iam_database_auth
        )

    @property
    def redirect_http(self) -> bool:
        return self.https_redirect if self.https_redirect is not None else self.env != "local"

    @property
    def migrate_on_start(self) -> bool:
        return self.auto_migrate if self.auto_migrate is not None else self.is_sqlite


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
