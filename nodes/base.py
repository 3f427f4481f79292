"""The node-type API: what a node type declares, the context it runs in, and the errors it raises."""

from __future__ import annotations

import logging
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any, ClassVar, Generic, Protocol, TypeVar, get_args

from pydantic import BaseModel, StringConstraints

from .ports import FileRef, PortType, port_type_of


class NodeError(Exception):
    """A mistake the user can fix (bad input, bad setting). Shown as is; never retried."""

    code = "node_error"

    def __init__(self, message: str, *, port: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.port = port
        if code:
            self.code = code


class NodeInputError(NodeError):
    code = "bad_input"

    def __init__(self, port: str, message: str):
        super().__init__(message, port=port)


class TransientNodeError(Exception):
    """A failure that may go away by itself (network, rate limit): retried with backoff."""


class NodeCancelled(Exception):
    """The run was cancelled while this node worked; raised by `NodeContext.check_cancelled`."""


class ArtifactStore(Protocol):
    def put_bytes(self, data: bytes, *, name: str, media_type: str) -> FileRef: ...

    def put_file(self, path: Path, *, name: str | None = None, media_type: str | None = None) -> FileRef: ...

    def open(self, ref: FileRef) -> IO[bytes]: ...

    def path(self, ref: FileRef) -> Path: ...


class _SecretField:
    """Marks a config field as the name of a stored secret: its JSON Schema says `"format": "secret"`, which
    the editor draws as a picker of secret names. The value in the graph is the name, never the secret."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema = handler.resolve_ref_schema(handler(core_schema))
        schema["format"] = "secret"
        return schema

    def __hash__(self) -> int:
        return hash(_SecretField)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SecretField)


SECRET_NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"
#: A config field holding the name of a secret (Secrets page); read its value with `ctx.secret(name)`.
SecretName = Annotated[str, StringConstraints(pattern=SECRET_NAME_PATTERN), _SecretField()]


def _holds_secret_name(annotation: Any, metadata: list[Any]) -> bool:
    return any(isinstance(m, _SecretField) for m in metadata) or any(
        _holds_secret_name(arg, []) for arg in get_args(annotation)) or isinstance(annotation, _SecretField)


def secret_references(config: BaseModel) -> dict[str, str]:
    """Field -> secret name, for each `SecretName` field of a config that is set."""
    out = {}
    for name, info in type(config).model_fields.items():
        value = getattr(config, name, None)
        if isinstance(value, str) and value and _holds_secret_name(info.annotation, info.metadata):
            out[name] = value
    return out


@dataclass
class NodeContext:
    """Everything a node may touch in the world. Tests build one with a temporary artifact store."""

    run_id: str
    node_id: str
    artifacts: ArtifactStore
    graph_inputs: dict[str, Any] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)  # model cache, shared per worker process
    log_sink: Callable[[str, str], None] | None = None
    llm: Any = None  # the LLM client (nodes/llm_client.py), or None when no endpoint is configured
    limits: Any = None  # nodes.files.Limits
    models_dir: Path | None = None  # where local models (whisper, diffusion) are installed
    item: int | None = None  # inside a For each loop: the position of the item this run works on
    item_errors: list[dict[str, Any]] = field(default_factory=list)  # for Collect: the items that failed
    is_cancelled: Callable[[], bool] | None = None  # whether the run was cancelled (cheap; cached)
    #: secret name -> value, or None when there is no such secret; decrypts in this process, at run time
    secrets: Callable[[str], str | None] | None = None

    def __post_init__(self) -> None:
        if self.limits is None:
            from .files import Limits

            self.limits = Limits()

    def secret(self, name: str, setting: str = "") -> str:
        """The value of the stored secret `name`; a NodeError that says how to create it when it is missing.
        Never log or return the value."""
        value = self.secrets(name) if self.secrets else None
        if value is None:
            where = f" (setting '{setting}')" if setting else ""
            raise NodeError(f"The secret '{name}'{where} does not exist. Create it on the Secrets page (or with "
                            "POST /api/v1/secrets), or choose another secret.", port=None, code="secret_missing")
        return value

    def check_cancelled(self) -> None:
        """Long loops call this now and then: it stops the node when the person cancelled the run."""
        if self.is_cancelled is not None and self.is_cancelled():
            raise NodeCancelled()

    def log(self, message: str, level: str = "info") -> None:
        if self.log_sink:
            self.log_sink(level, message)
        logging.getLogger("minddocs.node").log(logging.getLevelName(level.upper()), "%s: %s", self.node_id, message)


@dataclass(frozen=True)
class Port:
    name: str
    type: PortType
    required: bool = True
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type.to_json(), "type_label": str(self.type),
                "required": self.required, "description": self.description}


class NoConfig(BaseModel):
    pass


class NoPorts(BaseModel):
    pass


C = TypeVar("C", bound=BaseModel)
I = TypeVar("I", bound=BaseModel)
O = TypeVar("O", bound=BaseModel)


def ports_of(model: type[BaseModel]) -> list[Port]:
    return [
        Port(name, port_type_of(info), info.is_required(), info.description or "")  # type: ignore[arg-type]
        for name, info in model.model_fields.items()
    ]


class NodeType(Generic[C, I, O]):
    """Base class of every node type. Subclasses fill in the class attributes and `run`."""

    type_id: ClassVar[str]
    version: ClassVar[int] = 1
    display_name: ClassVar[str] = ""
    category: ClassVar[str] = "general"
    queue: ClassVar[str] = "default"
    timeout_s: ClassVar[float] = 300.0
    max_retries: ClassVar[int] = 0  # retries for TransientNodeError
    retry_delay_s: ClassVar[float] = 1.0  # first backoff; doubles on each retry
    #: Run in the worker thread itself, without a time-limit thread: only for node types whose work is
    #: small and bounded by construction (no loops over user data, no I/O).
    inline: ClassVar[bool] = False
    #: Outputs left None are branches not taken: the nodes they feed are skipped (flow.condition).
    branching: ClassVar[bool] = False
    #: Runs even when inputs come from skipped nodes (they arrive as None); skipped only when all are.
    takes_skipped: ClassVar[bool] = False
    #: Same type, version, config and inputs give the same outputs, so results may be reused (cached).
    deterministic: ClassVar[bool] = True
    #: Its result depends on the configured LLM: the model and endpoint are part of its cache key.
    uses_llm: ClassVar[bool] = False
    #: older node-type version N -> function that turns a config of version N into N+1
    config_migrations: ClassVar[dict[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {}

    Config: ClassVar[type[BaseModel]]
    Inputs: ClassVar[type[BaseModel]]
    Outputs: ClassVar[type[BaseModel]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            if typing.get_origin(base) is NodeType:
                cls.Config, cls.Inputs, cls.Outputs = typing.get_args(base)
        if not cls.display_name and "type_id" in cls.__dict__:
            cls.display_name = cls.type_id.split(".")[-1].replace("_", " ").capitalize()

    @classmethod
    def description(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    @classmethod
    def input_ports(cls, config: BaseModel) -> list[Port]:
        """The input ports for this config; node types with config-driven ports override it."""
        return ports_of(cls.Inputs)

    @classmethod
    def output_ports(cls, config: BaseModel) -> list[Port]:
        return ports_of(cls.Outputs)

    @classmethod
    def is_deterministic(cls, config: BaseModel) -> bool:
        """Whether this node's results may be reused; override when it depends on the config (temperature)."""
        return cls.deterministic

    @classmethod
    def upgrade_config(cls, config: dict[str, Any], from_version: int) -> dict[str, Any]:
        for step in range(from_version, cls.version):
            config = cls.config_migrations[step](config)
        return config

    def run(self, ctx: NodeContext, config: C, inputs: I) -> O:
        raise NotImplementedError
