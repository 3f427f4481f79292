"""The node types that ship with MindDocs (entry point `builtin` of the `minddocs.nodes` group)."""

from . import graph_io, json_get, text  # noqa: F401  (importing registers them)
