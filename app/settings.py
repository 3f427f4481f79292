"""All configuration, read once per entry point from `MINDDOCS_*` environment variables (or `.env`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class StorageSettings(BaseModel):
    max_upload_mb: int = Field(200, ge=1, description="Largest file accepted, in MB")


class RuntimeSettings(BaseModel):
    worker_threads: int = Field(8, ge=1, le=256, description="Threads of the in-process (embedded) worker")
    max_graph_nodes: int = Field(500, ge=1, le=100_000)
    node_modules: list[str] = Field(default_factory=list, description="Extra Python modules with node types")
    cache: bool = Field(True, description="Reuse the results of nodes already run with the same settings and inputs")
    cache_max_mb: int = Field(2048, ge=0, description="Size of the node result cache; least recently used go first")
    run_timeout_s: float = Field(0, ge=0, description="Time limit of a whole run in seconds; 0 means none")


class LimitsSettings(BaseModel):
    """Ceilings against giant or hostile inputs (zip bombs, decompression bombs, endless documents)."""

    max_pages: int = Field(2000, ge=1, description="Pages read from one document")
    max_image_megapixels: float = Field(100, gt=0, description="Largest image opened, in megapixels")
    max_uncompressed_mb: int = Field(500, ge=1, description="Largest unpacked size of a DOCX/ODT/EPUB/ZIP")
    max_compression_ratio: int = Field(200, ge=2, description="Unpacked ÷ packed size beyond which a file is a bomb")
    max_audio_minutes: float = Field(240, gt=0, description="Longest audio transcribed")
    max_table_rows: int = Field(100_000, ge=1, description="Rows read or written by one table node")
    max_archive_files: int = Field(1000, ge=1, description="Files taken out of, or put into, one ZIP")


class NetworkSettings(BaseModel):
    """Where nodes that call a URL (http.request, slack.post) may connect; see docs/integrations.md."""

    allowed_hosts: list[str] = Field(
        default_factory=list, description="Internal servers nodes may call although their addresses are private: "
        "host names, IP addresses or networks, as JSON: '[\"intranet.example\", \"10.20.0.0/16\"]'")
    timeout_s: float = Field(30, gt=0, le=3600, description="Longest wait for one request, redirects included")
    max_response_mb: float = Field(20, gt=0, description="Largest answer read, in MB")
    ca_file: Path | None = Field(None, description="Extra certificate authority to trust (PEM), for internal "
                                 "HTTPS servers")


class SmtpSettings(BaseModel):
    """The mail server email.send uses; unset host: sending email is off. See docs/integrations.md."""

    host: str | None = Field(None, description="e.g. smtp.example.com")
    port: int = Field(587, ge=1, le=65535, description="587 for STARTTLS, 465 for TLS, 25 without encryption")
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = Field(None, description="Or a stored secret chosen in the node")
    sender: str | None = Field(None, description="From address, e.g. 'Oficina <avisos@example.com>'")
    timeout_s: float = Field(30, gt=0, le=600)
    max_message_mb: float = Field(25, gt=0, description="Largest message, attachments included")
    ca_file: Path | None = Field(None, description="Extra certificate authority to trust (PEM)")


class NotificationSettings(BaseModel):
    """Links in webhooks and emails, and who gets an email when a run ends; see docs/webhooks.md."""

    public_url: str = Field("http://127.0.0.1:8080", description="The address people use to open MindDocs; "
                            "links to runs in webhooks and emails start with it")
    email_to: list[str] = Field(default_factory=list, description="Addresses emailed when a run ends (needs the "
                                "smtp settings), as JSON: '[\"ana@example.com\"]'")
    email_on: list[Literal["succeeded", "failed"]] = Field(["failed"], description="Which run endings are emailed")
    retry_delays_s: list[float] = Field([10, 60, 300, 1800, 7200], min_length=1, description="Waits between "
                                        "attempts to deliver a webhook or email; one attempt more than delays")


class BrokerSettings(BaseModel):
    namespace: str = "minddocs"
    heartbeat_timeout_ms: int = Field(60_000, ge=1000, description="When a silent worker counts as dead")
    maintenance_chance: int = Field(1000, ge=0, le=1_000_000, description="Per million fetches")


class LLMSettings(BaseModel):
    """An OpenAI-compatible endpoint (OpenAI, Ollama, vLLM, llama.cpp server); unset: offline fallbacks."""

    base_url: str | None = Field(None, description="e.g. https://api.openai.com/v1 (Ollama: …:11434/v1)")
    api_key: SecretStr | None = Field(None, description="Sent to the endpoint only; never logged or exported")
    model: str = "gpt-4o-mini"
    temperature: float = Field(0.2, ge=0, le=2, description="Default randomness; nodes may override it")
    timeout_s: float = Field(120, gt=0, le=3600, description="Longest wait for one answer")
    max_retries: int = Field(2, ge=0, le=10, description="Retries of one request (429, 5xx, lost connection)")
    context_tokens: int = Field(8192, ge=1024, description="The model's context window; longer texts are cut")


class ModelsSettings(BaseModel):
    directory: Path | None = None


class SecretsSettings(BaseModel):
    """The key that encrypts stored secrets (API keys, passwords); see docs/secrets.md."""

    key: SecretStr | None = Field(None, description="32 random bytes in URL-safe base64 (44 characters); "
                                  "unset: one is generated once into <data_dir>/secret.key")


class SchedulerSettings(BaseModel):
    """Schedules and watched folders (docs/schedules.md)."""

    poll_s: float = Field(15, gt=0, le=3600, description="Seconds between two looks at the schedules and folders")
    in_server: bool | None = Field(None, description="Run the scheduler inside 'minddocs serve'; unset: yes without "
                                   "Redis. With Redis, run 'minddocs scheduler' (one or more; each tick fires once)")
    misfire_grace_s: float = Field(60, ge=0, description="A tick found later than this is a misfire (the scheduler "
                                   "was down): the schedule's misfire policy decides")
    watch_roots: list[Path] = Field(default_factory=list, description="Folders under which watched folders may be, "
                                    "as JSON: '[\"/srv/inbox\"]'; empty: <data_dir>/inbox")


class RetentionSettings(BaseModel):
    """How long stored files are kept, and the sweep that removes the rest (docs/data.md)."""

    artifact_days: int = Field(0, ge=0, description="Files of runs (inputs, outputs, intermediate results) and "
                               "uploads no newer run uses are deleted this many days after the run ended; the "
                               "runs' records (state, times, logs, figures) stay. 0: keep files forever")
    sweep_hours: float = Field(24, gt=0, description="Hours between two sweeps by the scheduler (or run "
                               "'minddocs data sweep')")
    orphan_grace_hours: float = Field(24, ge=0, description="A stored file nothing refers to is removed once "
                                      "it is older than this (a file being uploaded is not referenced yet)")


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080


class LogSettings(BaseModel):
    """How serve, worker and scheduler write their log (docs/operations.md)."""

    format: Literal["text", "json"] = Field("text", description="'json': one JSON object a line, with run_id and "
                                            "node_id while a node runs (for log collectors)")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class ObservabilitySettings(BaseModel):
    """Prometheus metrics at /metrics (docs/operations.md)."""

    metrics: bool = Field(True, description="Serve Prometheus metrics at /metrics")
    metrics_token: SecretStr | None = Field(None, description="When set, /metrics answers only requests with "
                                            "'Authorization: Bearer <token>'; unset: anyone who reaches the port")
    max_graph_labels: int = Field(200, ge=1, le=10_000, description="Graphs counted one by one in the run "
                                  "metrics; runs of further graphs count under graph=\"other\"")


class OidcProvider(BaseModel):
    """One OpenID Connect sign-in button (Google, Microsoft, or any issuer). docs/accounts.md, "Single sign-on"."""

    name: str = Field(..., pattern=r"^[a-z0-9_-]{1,40}$", description="In URLs: /auth/oidc/<name>/login")
    label: str = Field("", description="Button text, e.g. 'Google'; default: the name")
    issuer: str = Field(..., description="e.g. https://accounts.google.com, "
                        "https://login.microsoftonline.com/<tenant>/v2.0")
    client_id: str
    client_secret: SecretStr
    allowed_domains: list[str] = Field(default_factory=list, description="Email domains allowed to sign in; "
                                       "empty: any (with registration open) or invited people only")
    scope: str = "openid email profile"


class AuthSettings(BaseModel):
    """Accounts and sign-in (docs/accounts.md)."""

    registration: Literal["open", "invite"] = Field("invite", description="'open': anyone may create an "
                                                    "account; 'invite': only people invited to a workspace")
    setup_in_browser: bool = Field(True, description="While no administrator exists, the first visitor may "
                                   "create one at /setup; off: only `minddocs user create --admin`")
    session_days: float = Field(14, gt=0, description="A sign-in lasts this long without activity")
    cookie_secure: bool | None = Field(None, description="Send cookies over HTTPS only; unset: when "
                                       "notifications.public_url starts with https")
    min_password_length: int = Field(10, ge=8, le=128)
    max_failures_per_account: int = Field(5, ge=1, description="Failed sign-ins in 15 minutes before that "
                                          "account waits")
    max_failures_per_ip: int = Field(20, ge=1, description="Failed sign-ins in 15 minutes from one address")
    reset_token_minutes: int = Field(60, ge=5, le=10080, description="How long a password-reset link works")
    invitation_days: int = Field(7, ge=1, le=90)
    jwt_secret: SecretStr | None = Field(None, description="Signs the short-lived API access tokens (JWT); "
                                         "unset: derived from the secrets key")
    access_token_minutes: int = Field(15, ge=1, le=1440)
    refresh_token_days: int = Field(30, ge=1, le=365)
    token_rate_per_minute: int = Field(600, ge=1, description="API requests per minute allowed per token")
    share_rate_per_minute: int = Field(30, ge=1, description="Share-link submissions per minute per address")
    oidc: list[OidcProvider] = Field(default_factory=list, description="Sign-in providers, as JSON")


class PlanLimits(BaseModel):
    """What one plan allows a workspace; None: no limit (docs/admin.md, "Plans and quotas")."""

    runs_per_month: int | None = Field(None, ge=0, description="Runs started in a calendar month (UTC), by "
                                       "anyone, a schedule, an inbound hook or a share link")
    storage_mb: int | None = Field(None, ge=0, description="Files the workspace holds (uploads and results), in MB")
    max_file_mb: int | None = Field(None, ge=0, description="Largest file uploaded, in MB")
    heavy_nodes: bool = Field(True, description="May run node types of the 'media' queue (images, audio)")
    members: int | None = Field(None, ge=1, description="People in the workspace, pending invitations included")


_DEFAULT_PLANS: dict[str, dict[str, object]] = {
    "free": {"runs_per_month": 100, "storage_mb": 1024, "max_file_mb": 25, "heavy_nodes": False, "members": 5},
    "professional": {"runs_per_month": 5000, "storage_mb": 51200, "max_file_mb": 500, "heavy_nodes": True,
                     "members": 50},
    "enterprise": {},
    "unlimited": {},  # the default of a self-hosted installation: nothing is refused
}


class PlansSettings(BaseModel):
    """Plans and their limits per workspace. A plan given in MINDDOCS_PLANS__LIMITS (JSON) or
    MINDDOCS_PLANS__LIMITS__<PLAN>__<LIMIT> keeps the defaults of what it does not mention."""

    limits: dict[str, PlanLimits] = Field(default_factory=lambda: {k: PlanLimits(**v) for k, v in
                                                                   _DEFAULT_PLANS.items()},
                                          description="Plan name -> limits, as JSON: '{\"free\": "
                                          "{\"runs_per_month\": 200}}'")
    default: str = Field("unlimited", description="The plan of workspaces whose plan is 'default' (every new "
                         "workspace) or not in `limits`. A hosted MindDocs that sells plans sets 'free' here")

    @model_validator(mode="before")
    @classmethod
    def _keep_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("limits"), dict):
            merged: dict[str, Any] = {k: dict(v) for k, v in _DEFAULT_PLANS.items()}
            for name, given in data["limits"].items():
                base = merged.get(str(name).lower(), {})
                merged[str(name).lower()] = ({**base, **given} if isinstance(given, dict) else given)
            data = {**data, "limits": merged}
        return data

    def name(self, plan: str) -> str:
        """The plan a workspace is on: its own, or the default one ("default", or a plan no longer configured)."""
        return plan if plan in self.limits else self.default

    def of(self, plan: str) -> PlanLimits:
        """The limits of `plan` (those of the default plan when it is not configured)."""
        return self.limits.get(self.name(plan)) or PlanLimits()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MINDDOCS_", env_nested_delimiter="__", env_file=".env",
                                      extra="ignore")

    data_dir: Path = Field(Path("data"), description="Database (SQLite), artifacts and models live here")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite in the data directory")
    redis_url: str | None = Field(None, description="Redis URL; set it to run nodes on separate workers")
    load_samples: bool = Field(True, description="Load the sample graphs into the library on start")
    samples_dir: Path = Field(Path(__file__).resolve().parent.parent / "sample_graphs",
                              description="Folder of the sample graphs")

    storage: StorageSettings = StorageSettings()
    auth: AuthSettings = AuthSettings()
    limits: LimitsSettings = LimitsSettings()
    runtime: RuntimeSettings = RuntimeSettings()
    broker: BrokerSettings = BrokerSettings()
    llm: LLMSettings = LLMSettings()
    models: ModelsSettings = ModelsSettings()
    server: ServerSettings = ServerSettings()
    secrets: SecretsSettings = SecretsSettings()
    network: NetworkSettings = NetworkSettings()
    smtp: SmtpSettings = SmtpSettings()
    notifications: NotificationSettings = NotificationSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    retention: RetentionSettings = RetentionSettings()
    log: LogSettings = LogSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    plans: PlansSettings = PlansSettings()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'minddocs.db').resolve()}"

    @property
    def models_dir(self) -> Path:
        """Where local models (transcription, diffusion) are installed and registered."""
        return self.models.directory or self.data_dir / "models"

    @property
    def secrets_key_file(self) -> Path:
        """The generated secrets key, used when MINDDOCS_SECRETS__KEY is not set."""
        return self.data_dir / "secret.key"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def watch_roots(self) -> list[Path]:
        """Folders a watched folder must be inside (resolved)."""
        return [p.resolve() for p in (self.scheduler.watch_roots or [self.data_dir / "inbox"])]

    @property
    def embedded(self) -> bool:
        """True when nodes run in this process (no Redis configured)."""
        return not self.redis_url
