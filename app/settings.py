"""All configuration, read once per entry point from `MINDDOCS_*` environment variables (or `.env`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class StorageSettings(BaseModel):
    max_upload_mb: int = Field(200, ge=1, description="Largest file accepted, in MB")


class RuntimeSettings(BaseModel):
    worker_threads: int = Field(8, ge=1, le=256, description="Threads of the in-process (embedded) worker")
    max_graph_nodes: int = Field(500, ge=1, le=100_000)
    node_modules: list[str] = Field(default_factory=list, description="Extra Python modules with node types")


class LimitsSettings(BaseModel):
    """Ceilings against giant or hostile inputs (zip bombs, decompression bombs, endless documents)."""

    max_pages: int = Field(2000, ge=1, description="Pages read from one document")
    max_image_megapixels: float = Field(100, gt=0, description="Largest image opened, in megapixels")
    max_uncompressed_mb: int = Field(500, ge=1, description="Largest unpacked size of a DOCX/ODT/EPUB/ZIP")
    max_compression_ratio: int = Field(200, ge=2, description="Unpacked ÷ packed size beyond which a file is a bomb")
    max_audio_minutes: float = Field(240, gt=0, description="Longest audio transcribed")


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

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'minddocs.db').resolve()}"

    @property
    def models_dir(self) -> Path:
        """Where local models (transcription, diffusion) are installed and registered."""
        return self.models.directory or self.data_dir / "models"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def embedded(self) -> bool:
        """True when nodes run in this process (no Redis configured)."""
        return not self.redis_url
