"""The LLM nodes' own API key: a stored secret named in the settings, read through the node's context."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nodes.base import NodeContext, NodeError
from nodes.llm_client import LLMClient
from nodes.llm_extract_fields import ExtractConfig, ExtractFields, ExtractIn
from nodes.llm_prompt import LLMPrompt, PromptConfig, PromptIn
from nodes.text_summarise import Summarise, SummariseConfig, SummariseIn
from tests.fake_llm import FakeLLM

CONFIGURED = "sk-configured-1234"
OWN = "sk-node-own-9876"
VAULT = {"team_key": OWN}


@pytest.fixture
def server() -> Iterator[FakeLLM]:
    fake = FakeLLM()
    yield fake
    fake.close()


def context(server: FakeLLM, secrets=VAULT.get) -> NodeContext:
    llm = LLMClient(base_url=server.url, model="test-model", api_key=CONFIGURED, max_retries=0, timeout_s=5)
    return NodeContext(run_id="r", node_id="n", artifacts=None, llm=llm, secrets=secrets)  # type: ignore[arg-type]


def keys_sent(server: FakeLLM) -> list[str]:
    return [r["headers"]["authorization"].removeprefix("Bearer ") for r in server.requests]


def test_each_llm_node_sends_its_own_key_when_one_is_chosen(server):
    server.values = {"total": 12.5}
    ctx = context(server)

    LLMPrompt().run(ctx, PromptConfig(template="{{ text }}", api_key="team_key"), PromptIn(text="hola"))
    Summarise().run(ctx, SummariseConfig(api_key="team_key"), SummariseIn(text="Un texto. Con dos frases."))
    ExtractFields().run(ctx, ExtractConfig(fields=[{"name": "total", "type": "number"}], api_key="team_key"),
                        ExtractIn(text="Total 12,50"))
    LLMPrompt().run(ctx, PromptConfig(template="{{ text }}"), PromptIn(text="sin clave propia"))

    assert keys_sent(server) == [OWN, OWN, OWN, CONFIGURED]


def test_a_missing_secret_stops_the_node_with_a_sentence(server):
    with pytest.raises(NodeError) as caught:
        LLMPrompt().run(context(server), PromptConfig(template="{{ text }}", api_key="nowhere"),
                        PromptIn(text="hola"))

    assert caught.value.code == "secret_missing"
    assert "'nowhere'" in caught.value.message and "Secrets page" in caught.value.message
    assert server.requests == []


def test_a_refused_node_key_points_at_the_secret_and_is_never_shown(server):
    server.script = [{"status": 401, "content": f"Incorrect API key provided: {OWN}"}]

    with pytest.raises(NodeError) as caught:
        LLMPrompt().run(context(server), PromptConfig(template="{{ text }}", api_key="team_key"),
                        PromptIn(text="hola"))

    assert caught.value.code == "llm_auth"
    assert "the secret chosen in the node's 'API key' setting" in caught.value.message
    assert OWN not in caught.value.message


def test_offline_use_needs_no_secret(server):
    # use_llm off: the text never leaves, so the key is not even looked up
    out = Summarise().run(context(server, secrets=None), SummariseConfig(api_key="team_key", use_llm=False),
                          SummariseIn(text="Primera frase del texto. Segunda frase del texto."))

    assert out.info["method"] == "extractive" and server.requests == []
