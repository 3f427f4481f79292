"""All configuration, read once per entry point from `MINDDOCS_*` environment variables (or `.env`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
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


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080


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
