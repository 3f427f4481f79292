"""The node types that ship with MindDocs (entry point `builtin` of the `minddocs.nodes` group)."""

from . import flow, graph_io, json_get, text  # noqa: F401  (importing registers them)
from . import llm_extract_fields, llm_prompt, text_summarise  # noqa: F401
from . import audio_transcribe  # noqa: F401  (imports nothing optional: faster-whisper loads in run)
from . import doc_export, doc_fill_template, doc_merge_pdf  # noqa: F401  (pandoc, PyMuPDF; LibreOffice if present)
from . import image_convert, image_enhance, image_inpaint  # noqa: F401  (torch/diffusers load only in run)
from . import doc_extract  # noqa: F401  (PyMuPDF and python-docx; the OCR engines load in run)
from . import data_table, file_zip  # noqa: F401  (openpyxl loads in run)
from . import email_send, http_request, slack_post  # noqa: F401  (integrations; every URL through nodes/net.py)
