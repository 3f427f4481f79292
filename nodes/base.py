"""The node-type API: what a node type declares, the context it runs in, and the errors it raises."""

from __future__ import annotations

import logging
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel

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


class ArtifactStore(Protocol):
    def put_bytes(self, data: bytes, *, name: str, media_type: str) -> FileRef: ...

    def put_file(self, path: Path, *, name: str | None = None, media_type: str | None = None) -> FileRef: ...

    def open(self, ref: FileRef) -> IO[bytes]: ...

    def path(self, ref: FileRef) -> Path: ...


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

    def __post_init__(self) -> None:
        if self.limits is None:
            from .files import Limits

            self.limits = Limits()

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
I = TypeVar("I", bound=BaseModel)  # noqa: E741
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
    def upgrade_config(cls, config: dict[str, Any], from_version: int) -> dict[str, Any]:
        for step in range(from_version, cls.version):
            config = cls.config_migrations[step](config)
        return config

    def run(self, ctx: NodeContext, config: C, inputs: I) -> O:
        raise NotImplementedError
