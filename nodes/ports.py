"""Port types: what flows along an edge, and which outputs may feed which inputs.

A port is a field of a node type's In or Out model whose annotation carries a `PortType`:

    class SummariseIn(BaseModel):
        text: Text
        pages: ListOf[Text] = []

Compatibility is explicit (`accepts`): a port type feeds only the types listed there; nothing is
converted behind the user's back (a Document does not silently become Text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo


@dataclass(frozen=True)
class PortType:
    name: str
    item: PortType | None = None

    def __str__(self) -> str:
        return f"List[{self.item}]" if self.item else self.name

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, **({"item": self.item.to_json()} if self.item else {})}

    @property
    def is_file(self) -> bool:
        return self.name in FILE_TYPES


TEXT = PortType("Text")
NUMBER = PortType("Number")
BOOL = PortType("Bool")
JSON = PortType("Json")
ANY = PortType("Any")
FILE = PortType("File")
DOCUMENT = PortType("Document")
IMAGE = PortType("Image")
AUDIO = PortType("Audio")

FILE_TYPES = frozenset({"File", "Document", "Image", "Audio"})
#: Types a Json input accepts besides Json itself: every plain JSON value.
JSON_VALUES = frozenset({"Text", "Number", "Bool", "Json"})


def list_of(item: PortType) -> PortType:
    return PortType("List", item)


def accepts(target: PortType, source: PortType) -> bool:
    """Whether an output of type `source` may be wired into an input of type `target`."""
    if target == source or target == ANY or source == ANY:
        return True
    if target == FILE:
        return source.name in FILE_TYPES  # a Document, Image or Audio is a File
    if target == JSON:
        return source.name in JSON_VALUES or (source.name == "List" and not _holds_files(source))
    if target.name == "List" and source.name == "List":
        return accepts(target.item, source.item)  # type: ignore[arg-type]
    return False


def _holds_files(port_type: PortType) -> bool:
    while port_type.item:
        port_type = port_type.item
    return port_type.is_file


class FileRef(BaseModel):
    """A stored file travelling between nodes: a reference to an artifact, never the bytes."""

    artifact: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the content")
    name: str = Field(min_length=1, max_length=255)
    media_type: str = "application/octet-stream"
    size: int = Field(ge=0)


Text = Annotated[str, TEXT]
Number = Annotated[float, NUMBER]
Bool = Annotated[bool, BOOL]
Json = Annotated[Any, JSON]
AnyValue = Annotated[Any, ANY]
File = Annotated[FileRef, FILE]
Document = Annotated[FileRef, DOCUMENT]
Image = Annotated[FileRef, IMAGE]
Audio = Annotated[FileRef, AUDIO]


class ListOf:
    """`ListOf[Text]` is a port holding a list of texts."""

    def __class_getitem__(cls, item: Any) -> Any:
        base, (port_type,) = get_args(item)[0], [m for m in get_args(item)[1:] if isinstance(m, PortType)]
        return Annotated[list[base], list_of(port_type)]  # type: ignore[valid-type]


def port_type_of(field: FieldInfo) -> PortType | None:
    """The PortType declared on a model field, or None when the field is not a port."""
    for meta in field.metadata:
        if isinstance(meta, PortType):
            return meta
    annotation = field.annotation
    if get_origin(annotation) is Annotated:
        return next((m for m in get_args(annotation)[1:] if isinstance(m, PortType)), None)
    return None


#: The port type of each graph input kind (`io.input` config `kind`).
INPUT_KINDS: dict[str, PortType] = {
    "text": TEXT,
    "number": NUMBER,
    "bool": BOOL,
    "json": JSON,
    "file": FILE,
    "document": DOCUMENT,
    "image": IMAGE,
    "audio": AUDIO,
}
