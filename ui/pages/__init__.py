"""One NiceGUI page per module; importing this package registers every page."""

from . import catalogue, editor, library, run_detail, run_form, runs, schedules, secrets  # noqa: F401
from . import notifications, webhooks  # noqa: F401,E402  (webhooks and notifications: docs/webhooks.md)
