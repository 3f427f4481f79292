"""One NiceGUI page per module; importing this package registers every page."""

from . import catalogue, editor, library, run_detail, run_form, runs  # noqa: F401
