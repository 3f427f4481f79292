"""The node types that ship with MindDocs (entry point `builtin` of the `minddocs.nodes` group)."""

from . import graph_io, json_get, text  # noqa: F401  (importing registers them)
from . import llm_extract_fields, llm_prompt, text_summarise  # noqa: F401
from . import doc_export, doc_fill_template, doc_merge_pdf  # noqa: F401  (pandoc, PyMuPDF; LibreOffice if present)
