"""The node types that ship with MindDocs (entry point `builtin` of the `minddocs.nodes` group)."""

from . import (  # noqa: F401  (importing registers them)  # noqa: F401  # noqa: F401  (pandoc, PyMuPDF; LibreOffice if present)  # noqa: F401  (torch/diffusers load only in run)  # noqa: F401  (openpyxl loads in run)  # noqa: F401  (integrations; every URL through nodes/net.py)
    audio_transcribe,
    data_table,
    doc_export,
    doc_extract,
    doc_fill_template,
    doc_merge_pdf,
    email_send,
    file_zip,
    flow,
    graph_io,
    http_request,
    image_convert,
    image_enhance,
    image_inpaint,
    json_get,
    llm_extract_fields,
    llm_prompt,
    slack_post,
    text,
    text_summarise,
)
