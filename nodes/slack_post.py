"""slack.post: post a message to a Slack channel through an incoming webhook kept as a secret."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import StrictUndefined
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .base import NodeContext, NodeError, NodeType, Port, SecretName, TransientNodeError
from .http_request import check_templates, decode, short, variable_ports
from .net import fetch, parse_url
from .ports import TEXT, Text
from .registry import register
from .templating import Sandbox, check_variable_names, render_text

MAX_CHARS = 40_000  # Slack cuts longer messages


def _escape(value: Any) -> Any:
    """Slack reads <...> as links and mentions (<!channel>): escape them in values, not in the template."""
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


_env = Sandbox(undefined=StrictUndefined, keep_trailing_newline=True, finalize=_escape)


class SlackConfig(BaseModel):
    webhook: SecretName = Field(title="Webhook address (secret)",
                                description="The stored secret holding the channel's incoming-webhook address "
                                "(https://hooks.slack.com/services/…)")
    message: str = Field("{{ text }}", min_length=1, max_length=MAX_CHARS, json_schema_extra={"format": "textarea"},
                         description="What to post, with {{ placeholders }}; Slack formatting such as *bold* works")
    variables: list[str] = Field(default_factory=lambda: ["text"], max_length=50,
                                 description="One input per name, usable in the message")

    @field_validator("variables")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        return check_variable_names(names, reserved=set())

    @model_validator(mode="after")
    def _template(self) -> SlackConfig:
        check_templates(self.variables, message=self.message)
        return self


class SlackIn(BaseModel):
    model_config = ConfigDict(extra="allow")  # one input per declared variable


class SlackOut(BaseModel):
    text: Text = Field(description="The message as posted")


@register
class SlackPost(NodeType[SlackConfig, SlackIn, SlackOut]):
    """Post a message to a Slack channel through an incoming webhook stored as a secret.

    Values put into the message cannot mention people or the channel (their < and > are escaped).
    The webhook address goes through the same network guard as HTTP request.
    """

    type_id = "slack.post"
    display_name = "Post to Slack"
    category = "integrations"
    queue = "default"
    timeout_s = 120
    max_retries = 2
    retry_delay_s = 2.0
    deterministic = False

    @classmethod
    def input_ports(cls, config: SlackConfig) -> list[Port]:
        return variable_ports(config.variables)

    @classmethod
    def output_ports(cls, config: SlackConfig) -> list[Port]:
        return [Port("text", TEXT, True, "The message as posted")]

    def run(self, ctx: NodeContext, config: SlackConfig, inputs: SlackIn) -> SlackOut:
        text = render_text(_env, config.message, dict(inputs.model_extra or {}))
        if not text.strip():
            raise NodeError("The message is empty once filled; write a message or connect non-empty values.",
                            code="empty_message")
        if len(text) > MAX_CHARS:
            raise NodeError(f"The message has {len(text):,} characters; Slack takes at most {MAX_CHARS:,}. Shorten "
                            "it, e.g. with Summarise before this node.", code="message_too_long")
        url = ctx.secret(config.webhook, "Webhook address").strip()
        try:  # the address holds the webhook's token: no message may show it
            parse_url(url)
            answer = fetch(ctx.limits.network, "POST", url, headers={"Content-Type": "application/json"},
                           content=json.dumps({"text": text}).encode("utf-8"))
        except (NodeError, TransientNodeError) as exc:
            hidden = str(exc).replace(url, f"the address in secret '{config.webhook}'")
            if isinstance(exc, TransientNodeError):
                raise TransientNodeError(hidden) from None
            raise NodeError(hidden, code=exc.code) from None
        said = short(decode(answer), 200)
        if answer.status == 429 or answer.status >= 500:
            raise TransientNodeError(f"Slack answered {answer.status}: {said}")
        if not 200 <= answer.status < 300:
            hint = (" The webhook was removed or is wrong: create a new one in Slack and store it in the secret "
                    f"'{config.webhook}'.") if answer.status in (403, 404, 410) else ""
            raise NodeError(f"Slack refused the message ({answer.status}: {said}).{hint}", code="slack_refused")
        ctx.log(f"Posted {len(text):,} characters to Slack.")
        return SlackOut(text=text)
