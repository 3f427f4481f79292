"""llm.prompt: fill a prompt template with upstream values and return the language model's answer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .base import NodeContext, NodeError, NodeType, Port, SecretName
from .llm_client import NOT_CONFIGURED, client_for, count_tokens
from .ports import Text
from .registry import register
from .text import TemplateConfig, TextTemplate


class PromptConfig(TemplateConfig):
    """The template and its variables work exactly as in text.template (same sandbox, same checks)."""

    template: str = Field(
        "{{ text }}", max_length=200_000, json_schema_extra={"format": "textarea"},
        description="What to ask, with {{ placeholders }} for upstream values, e.g. 'Write three short "
        "social media posts announcing this report: {{ text }}'")
    variables: list[str] = Field(
        default_factory=lambda: ["text"], max_length=50,
        description="One input per name, usable in the template")
    system: str = Field(
        "", max_length=20_000, json_schema_extra={"format": "textarea"},
        description="Standing instructions for the model (role, tone, format), e.g. 'You are a friendly "
        "copywriter. Answer in Spanish.'")
    temperature: float | None = Field(
        None, ge=0, le=2, description="0 = focused and repeatable, 1 = creative; empty = the default")
    api_key: SecretName | None = Field(
        None, title="API key (secret)",
        description="Use this stored secret as the API key for this node instead of the configured one "
        "(Secrets page); empty: the configured key")


class PromptIn(BaseModel):
    model_config = ConfigDict(extra="allow")  # one input per declared variable


class PromptOut(BaseModel):
    text: Text


@register
class LLMPrompt(NodeType[PromptConfig, PromptIn, PromptOut]):
    """Ask the language model with a prompt built from upstream values; returns its answer as text.

    Good for social posts, quotes, replies and rewrites. Needs a configured endpoint (MINDDOCS_LLM__BASE_URL).
    """

    type_id = "llm.prompt"
    uses_llm = True
    display_name = "Ask the AI"
    category = "ai"
    queue = "default"  # waiting on the network, not the CPU
    timeout_s = 600
    max_retries = 2  # for rate limits and server errors left after the client's own retries
    retry_delay_s = 5.0

    @classmethod
    def input_ports(cls, config: PromptConfig) -> list[Port]:
        return TextTemplate.input_ports(config)

    @classmethod
    def is_deterministic(cls, config: PromptConfig) -> bool:
        return config.temperature == 0  # only a "repeatable" answer may be reused

    def run(self, ctx: NodeContext, config: PromptConfig, inputs: PromptIn) -> PromptOut:
        llm = client_for(ctx, config.api_key)
        if llm is None:
            raise NodeError(NOT_CONFIGURED, code="llm_not_configured")
        prompt = TextTemplate().run(ctx, config, inputs).text
        if not prompt.strip():
            raise NodeError("The prompt is empty once filled; write a template or connect non-empty inputs.",
                            code="empty_prompt")
        messages = [{"role": "system", "content": config.system}] if config.system.strip() else []
        messages.append({"role": "user", "content": prompt})
        if not llm.fits(messages):
            raise NodeError(f"The prompt is about {count_tokens(prompt + config.system):,} tokens, more than "
                            f"the model's context of {llm.context_tokens:,} leaves room for. Shorten it, "
                            "put text.summarise before this node, or raise MINDDOCS_LLM__CONTEXT_TOKENS if "
                            "the model takes more.", code="prompt_too_long")
        return PromptOut(text=llm.chat(messages, temperature=config.temperature))
