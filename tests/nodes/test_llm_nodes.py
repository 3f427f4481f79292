"""The LLM nodes against a real chat-completions server on 127.0.0.1, driven by the real `openai` client,
and their offline fallbacks (extractive summary, regular expressions) on corpus documents."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import pymupdf
import pytest
from pydantic import ValidationError

from app.services import Services, llm_client
from nodes.base import NodeContext, NodeError, NodeInputError, TransientNodeError
from nodes.llm_client import LLMClient, count_words, split_into_chunks
from nodes.llm_extract_fields import ExtractConfig, ExtractFields, ExtractIn
from nodes.llm_prompt import LLMPrompt, PromptConfig, PromptIn
from nodes.text_summarise import Summarise, SummariseConfig, SummariseIn
from tests.conftest import CORPUS, make_settings
from tests.fake_llm import FakeLLM
from tests.graphs import edge, graph, node, output

SECRET = "sk-test-secret-4f9c2a"
README = (CORPUS / "md_whisper_readme.md").read_text(encoding="utf-8")


def spanish_pdf_text() -> str:
    with pymupdf.open(CORPUS / "pdf_argentina_votacion_es.pdf") as doc:
        return "\n".join(page.get_text() for page in doc)


def normalised(text: str) -> str:
    return " ".join(text.split())


# --- a chat-completions server --------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[FakeLLM]:
    fake = FakeLLM()
    yield fake
    fake.close()


def client(server: FakeLLM, **options: Any) -> LLMClient:
    return LLMClient(**{"base_url": server.url, "model": "test-model", "api_key": SECRET, "max_retries": 2,
                        "timeout_s": 10, **options})


def context(llm: LLMClient | None = None) -> NodeContext:
    return NodeContext(run_id="run-1", node_id="n1", artifacts=None, llm=llm)  # type: ignore[arg-type]


def extract(llm: LLMClient | None, text: str, **config: Any):
    return ExtractFields().run(context(llm), ExtractConfig(**config), ExtractIn(text=text))


INVOICE_FIELDS = [{"name": "invoice_number", "type": "text", "required": True},
                  {"name": "total", "type": "number", "required": True, "description": "Amount due"},
                  {"name": "issued", "type": "date"}]


# --- llm.prompt -----------------------------------------------------------------------------------------


def test_prompt_sends_the_filled_template_system_prompt_model_and_temperature(server):
    server.reply = lambda body: "1. Nuevo informe disponible."
    config = PromptConfig(template="Write one post about: {{ text }} ({{ tone }})",
                          variables=["text", "tone"], system="You are a concise copywriter.", temperature=0.7)

    out = LLMPrompt().run(context(client(server)), config, PromptIn(text="the 2024 report", tone="friendly"))

    assert out.text == "1. Nuevo informe disponible."
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == f"Bearer {SECRET}"
    assert request["body"]["model"] == "test-model"
    assert request["body"]["temperature"] == 0.7
    assert request["body"]["messages"] == [
        {"role": "system", "content": "You are a concise copywriter."},
        {"role": "user", "content": "Write one post about: the 2024 report (friendly)"}]


def test_prompt_has_one_input_per_variable_and_uses_the_client_temperature_by_default(server):
    config = PromptConfig(template="{{ a }} {{ b }}", variables=["a", "b"])

    LLMPrompt().run(context(client(server, temperature=0.1)), config, PromptIn(a="x", b="y"))

    assert [p.name for p in LLMPrompt.input_ports(config)] == ["a", "b"]
    assert server.requests[0]["body"]["temperature"] == 0.1
    assert server.requests[0]["body"]["messages"] == [{"role": "user", "content": "x y"}]


def test_prompt_without_an_endpoint_says_how_to_configure_one():
    with pytest.raises(NodeError, match="MINDDOCS_LLM__BASE_URL") as info:
        LLMPrompt().run(context(None), PromptConfig(), PromptIn(text="hello"))
    assert info.value.code == "llm_not_configured"


def test_prompt_longer_than_the_context_is_refused_before_sending(server):
    with pytest.raises(NodeError, match="context of 2,048") as info:
        LLMPrompt().run(context(client(server, context_tokens=2048, answer_tokens=256)), PromptConfig(),
                        PromptIn(text=README))
    assert info.value.code == "prompt_too_long"
    assert server.requests == []


def test_prompt_template_mistakes_are_config_errors():
    with pytest.raises(ValidationError, match="no such variable"):
        PromptConfig(template="{{ missing }}", variables=["text"])


# --- text.summarise with a model ------------------------------------------------------------------------


def test_long_document_is_chunked_and_summarised_map_reduce(server):
    def reply(body: dict) -> str:
        user = body["messages"][-1]["content"]
        part = re.search(r"This is part (\d+) of (\d+)", user)
        return f"Notes on part {part.group(1)}." if part else "- Whisper recognises and translates speech."

    server.reply = reply
    llm = client(server, context_tokens=2048, answer_tokens=256)

    out = Summarise().run(context(llm), SummariseConfig(max_words=50, style="bullets", language="en"),
                          SummariseIn(text=README))

    chunks = split_into_chunks(README, llm.input_budget)
    assert len(chunks) >= 3
    assert " ".join(chunks).split() == README.split()  # nothing lost, nothing repeated
    *maps, final = server.requests
    assert len(maps) == len(chunks)
    sent = [re.search(r"<text>\n(.*)\n</text>", r["body"]["messages"][-1]["content"], re.DOTALL).group(1)
            for r in maps]
    assert sorted(sent) == sorted(chunks)
    assert all(len(text) <= llm.input_budget * 3 for text in sent)
    assert all(r["body"]["model"] == "test-model" for r in server.requests)
    final_user = final["body"]["messages"][-1]["content"]
    assert "at most 50 words" in final_user and "Write in English." in final_user and "'- '" in final_user
    assert all(f"Notes on part {i}." in final_user for i in range(1, len(chunks) + 1))
    assert out.summary == "- Whisper recognises and translates speech."
    assert out.info["method"] == "llm"
    assert out.info["model"] == "test-model"
    assert out.info["chunks"] == len(chunks) and out.info["calls"] == len(chunks) + 1


def test_notes_too_long_for_one_request_are_condensed_first(server):
    def reply(body: dict) -> str:
        user = body["messages"][-1]["content"]
        if "This is part" in user:
            return "Long notes. " * 200  # 2,400 characters per part: together they overflow the budget
        return "Condensed." if "Condense these notes" in user else "Final."

    server.reply = reply
    llm = client(server, context_tokens=2048, answer_tokens=256)

    out = Summarise().run(context(llm), SummariseConfig(max_words=40), SummariseIn(text=README))

    users = server.user_texts()
    assert any("Condense these notes" in u for u in users)
    assert users[-1].count("Condensed.") >= 1 and "Long notes." not in users[-1]
    assert out.summary == "Final." and out.info["calls"] == len(users)


def test_a_model_that_writes_too_much_is_cut_to_max_words(server):
    server.reply = lambda body: "One sentence here. " * 30

    out = Summarise().run(context(client(server)), SummariseConfig(max_words=20),
                          SummariseIn(text="Short text."))

    assert count_words(out.summary) <= 20 and out.summary.endswith(".")
    assert out.info["trimmed"] is True and out.info["chunks"] == 1


def test_summarise_with_use_llm_off_never_calls_the_model(server):
    out = Summarise().run(context(client(server)), SummariseConfig(max_words=60, use_llm=False),
                          SummariseIn(text=README))

    assert server.requests == []
    assert out.info["method"] == "extractive"


# --- retries, timeouts, errors --------------------------------------------------------------------------


def test_rate_limit_and_server_error_are_retried_then_succeed(server):
    server.script = [{"status": 429, "content": "slow down", "headers": {"retry-after-ms": "10"}},
                     {"status": 500, "content": "oops", "headers": {"retry-after-ms": "10"}}]
    server.reply = lambda body: "Third time lucky."

    out = LLMPrompt().run(context(client(server, max_retries=2)), PromptConfig(), PromptIn(text="hi"))

    assert out.text == "Third time lucky."
    assert len(server.requests) == 3
    assert server.requests[0]["body"] == server.requests[2]["body"]


def test_failures_left_after_the_client_retries_are_transient_for_the_runtime(server):
    server.script = [{"status": 503, "content": "overloaded", "headers": {"retry-after-ms": "10"}}] * 2

    with pytest.raises(TransientNodeError, match=r"failed \(503, 2 attempts\)"):
        LLMPrompt().run(context(client(server, max_retries=1)), PromptConfig(), PromptIn(text="hi"))
    assert len(server.requests) == 2
    assert LLMPrompt.max_retries > 0 and Summarise.max_retries > 0 and ExtractFields.max_retries > 0


def test_a_server_that_is_down_is_transient():
    llm = LLMClient(base_url="http://127.0.0.1:9/v1", model="m", max_retries=0, timeout_s=2)

    with pytest.raises(TransientNodeError, match="cannot be reached"):
        llm.chat([{"role": "user", "content": "hi"}])


def test_a_timeout_is_a_clear_node_error(server):
    server.script = [{"delay": 3, "content": "too late"}]
    llm = client(server, timeout_s=0.3, max_retries=0)

    started = time.monotonic()
    expected = r"did not answer within 0.3 s \(1 attempt\).*MINDDOCS_LLM__TIMEOUT_S"
    with pytest.raises(NodeError, match=expected) as info:
        Summarise().run(context(llm), SummariseConfig(), SummariseIn(text="Some text to summarise."))
    assert info.value.code == "llm_timeout"
    assert time.monotonic() - started < 2.5  # it did not wait for the late answer


def test_a_wrong_model_name_says_which_setting_to_check(server):
    server.script = [{"status": 404, "content": "model 'nope' not found"}]

    with pytest.raises(NodeError, match="no model 'test-model'.*MINDDOCS_LLM__MODEL"):
        client(server, max_retries=0).chat([{"role": "user", "content": "hi"}])


def test_the_api_key_never_reaches_logs_errors_or_outputs(server, caplog):
    caplog.set_level(logging.DEBUG)
    llm = client(server, max_retries=0)
    server.script = [{"status": 400, "content": f"Bad request from key {SECRET}"},
                     {"status": 401, "content": f"Incorrect API key provided: {SECRET}"}]

    with pytest.raises(NodeError) as refused:
        llm.chat([{"role": "user", "content": "hi"}])
    with pytest.raises(NodeError) as unauthorised:
        llm.chat([{"role": "user", "content": "hi"}])
    out = LLMPrompt().run(context(llm), PromptConfig(), PromptIn(text="hi"))

    assert server.requests[0]["headers"]["authorization"] == f"Bearer {SECRET}"  # it is sent, and only there
    assert "***" in refused.value.message and "MINDDOCS_LLM__API_KEY" in unauthorised.value.message
    for text in (refused.value.message, unauthorised.value.message, out.model_dump_json(), repr(llm),
                 str(vars(llm).get("endpoint")), caplog.text):
        assert SECRET not in text
    assert caplog.records  # the openai and httpx loggers did write at DEBUG


# --- llm.extract_fields with a model --------------------------------------------------------------------


def test_extract_fields_asks_for_structured_output_and_validates_it(server):
    server.values = {"invoice_number": "F-2024-001", "total": 1234.56, "issued": "2020-08-06"}

    out = extract(client(server), "Factura F-2024-001 ... Total: 1.234,56 €", fields=INVOICE_FIELDS,
                  instructions="Amounts are in euros.")

    assert out.fields == {"invoice_number": "F-2024-001", "total": 1234.56, "issued": "2020-08-06"}
    assert out.info == {"method": "llm", "model": "test-model", "chunks": 1, "repaired": False,
                        "response_format": "json_schema", "missing": []}
    body = server.requests[0]["body"]
    schema = body["response_format"]["json_schema"]["schema"]
    assert body["response_format"]["type"] == "json_schema"
    assert schema["required"] == ["invoice_number", "total", "issued"]
    assert schema["properties"]["total"]["type"] == "number"
    assert schema["properties"]["issued"]["type"] == ["string", "null"]
    system = " ".join(m["content"] for m in body["messages"] if m["role"] == "system")
    assert "Amounts are in euros." in system and '"additionalProperties": false' in system
    assert "Factura F-2024-001" in body["messages"][-1]["content"]


def test_extract_fields_repairs_a_non_json_answer_once(server):
    server.script = [{"content": "Sure! The invoice number is F-1 and the total 12."},
                     {"content": '```json\n{"invoice_number": "F-1", "total": 12, "issued": null}\n```'}]

    out = extract(client(server), "Invoice F-1, total 12", fields=INVOICE_FIELDS)

    assert out.fields == {"invoice_number": "F-1", "total": 12.0, "issued": None}
    assert out.info["repaired"] is True and out.info["missing"] == ["issued"]
    first, second = (r["body"]["messages"] for r in server.requests)
    assert second[:len(first)] == first
    assert second[-2] == {"role": "assistant", "content": "Sure! The invoice number is F-1 and the total 12."}
    assert "cannot be used" in second[-1]["content"] and second[-1]["role"] == "user"


def test_extract_fields_names_the_field_when_the_repair_fails_too(server):
    server.script = [{"content": '{"invoice_number": "F-1", "total": "lots", "issued": null}'}] * 2

    with pytest.raises(NodeError, match="field 'total' is not valid even after one correction") as info:
        extract(client(server), "Invoice F-1", fields=INVOICE_FIELDS)
    assert info.value.code == "llm_invalid_output"
    assert len(server.requests) == 2
    assert "field 'total'" in server.requests[1]["body"]["messages"][-1]["content"]


def test_extract_fields_reports_non_json_twice_naming_the_fields(server):
    server.script = [{"content": "I cannot help with that."}] * 2

    expected = "did not answer with JSON for the fields invoice_number, total, issued"
    with pytest.raises(NodeError, match=expected):
        extract(client(server), "Invoice F-1", fields=INVOICE_FIELDS)
    assert len(server.requests) == 2


def test_extract_fields_falls_back_to_json_object_when_the_server_refuses_json_schema(server):
    server.refuse_formats = {"json_schema"}
    server.values = {"invoice_number": "F-9", "total": 9, "issued": None}
    llm = client(server)

    out = extract(llm, "Invoice F-9, total 9", fields=INVOICE_FIELDS)
    extract(llm, "Invoice F-9, total 9", fields=INVOICE_FIELDS)

    formats = [r["body"]["response_format"]["type"] for r in server.requests]
    assert formats == ["json_schema", "json_object", "json_object"]  # refused once, remembered
    assert out.info["response_format"] == "json_object" and out.fields["total"] == 9.0


def test_extract_fields_on_a_long_text_merges_parts_and_checks_required_fields_at_the_end(server):
    answers = iter([{"invoice_number": "F-7", "total": None, "issued": None},
                    {"invoice_number": "F-8", "total": 70, "issued": "2024-01-31"}])
    server.reply = lambda body: json.dumps(next(answers, {}))
    server.refuse_formats = {"json_schema", "json_object"}  # prompt-only JSON, like an old llama.cpp
    llm = client(server, context_tokens=2048, answer_tokens=256)
    text = ("Invoice F-7. " + "Filler words. " * 300) + "\n\n" + ("Total 70 on 31/01/2024. " * 10)

    out = extract(llm, text, fields=INVOICE_FIELDS)

    assert out.fields == {"invoice_number": "F-7", "total": 70.0, "issued": "2024-01-31"}
    assert out.info["chunks"] == 2 and out.info["response_format"] == "none"


# --- offline fallbacks ----------------------------------------------------------------------------------


def test_extractive_summary_of_an_english_markdown_document():
    out = Summarise().run(context(None), SummariseConfig(max_words=80, style="bullets"),
                          SummariseIn(text=README))

    source = normalised(README)
    lines = out.summary.splitlines()
    assert len(lines) >= 2 and all(line.startswith("- ") for line in lines)
    assert all(normalised(line[2:]) in source for line in lines)  # the source's own sentences
    assert not any(line.startswith(("- #", "- pip", "- [")) for line in lines)  # no headings, commands, links
    assert count_words(out.summary) <= 80
    assert out.info["method"] == "extractive" and out.info["model"] is None
    assert out.info["language"] == "en" and out.info["words"] == count_words(out.summary)


def test_extractive_summary_of_the_spanish_pdf():
    text = spanish_pdf_text()

    out = Summarise().run(context(None), SummariseConfig(max_words=40, style="executive", language="en"),
                          SummariseIn(text=text))

    source = normalised(text)
    lead, _, rest = out.summary.partition("\n\n")
    pieces = [lead] + [line[2:] for line in rest.splitlines()]
    assert len(pieces) >= 2 and all(normalised(p) in source for p in pieces)
    assert count_words(out.summary) <= 40
    assert out.info["method"] == "extractive" and out.info["language"] == "es"
    assert "cannot be translated into English" in out.info["note"]


def test_extractive_spanish_sentences_keep_their_abbreviations():
    text = ("El Sr. García presentó ayer el informe anual de la empresa ante el consejo. La Dra. Pérez "
            "explicó que las ventas de la empresa crecieron un 12 % durante el año. Según el consejo, el "
            "crecimiento de las ventas se debe a las tiendas nuevas de la empresa. Mañana lloverá en toda la "
            "costa norte.")

    out = Summarise().run(context(None), SummariseConfig(max_words=50, style="bullets"),
                          SummariseIn(text=text))

    lines = [line[2:] for line in out.summary.splitlines()]
    assert "La Dra. Pérez explicó que las ventas de la empresa crecieron un 12 % durante el año." in lines
    assert "Mañana lloverá en toda la costa norte." not in lines  # shares nothing with the rest
    assert all(line in text for line in lines)


@pytest.mark.parametrize("style", ["prose", "bullets", "executive"])
@pytest.mark.parametrize("max_words", [10, 35, 200])
def test_extractive_summary_never_exceeds_max_words(style, max_words):
    out = Summarise().run(context(None), SummariseConfig(max_words=max_words, style=style),
                          SummariseIn(text=README))

    assert 0 < count_words(out.summary) <= max_words


def test_summarise_refuses_an_empty_text():
    with pytest.raises(NodeInputError, match="empty"):
        Summarise().run(context(None), SummariseConfig(), SummariseIn(text="  \n "))


def test_extract_fields_offline_uses_patterns_labels_and_shapes():
    text = ("FACTURA nº F-2024-001\nFecha de emisión: 6 de agosto de 2020\nTotal: 1.234,56 €\n"
            "Pagado: sí\nConceptos: diseño; maquetación; impresión\nDudas: escriba a ana@example.es\n")
    fields = [{"name": "invoice_number", "pattern": r"factura\s+n[º°o]\s*(?P<value>\S+)", "required": True},
              {"name": "issued", "type": "date"}, {"name": "total", "type": "number", "required": True},
              {"name": "pagado", "type": "bool"}, {"name": "conceptos", "type": "list"},
              {"name": "email"}, {"name": "due", "type": "date", "description": "Vencimiento"}]

    out = extract(None, text, fields=fields)

    assert out.fields == {"invoice_number": "F-2024-001", "issued": "2020-08-06", "total": 1234.56,
                          "pagado": True, "conceptos": ["diseño", "maquetación", "impresión"],
                          "email": "ana@example.es", "due": "2020-08-06"}
    assert out.info["method"] == "regex" and out.info["model"] is None
    assert out.info["how"]["invoice_number"] == "pattern" and out.info["how"]["total"] == "label"
    assert out.info["how"]["email"] == "type default"


def test_extract_fields_offline_names_a_required_field_it_cannot_find(server):
    with pytest.raises(NodeError, match="required field 'total' was not found in the text") as info:
        extract(client(server), "Invoice number: F-1, nothing else", fields=INVOICE_FIELDS, use_llm=False)
    assert info.value.code == "field_missing" and server.requests == []


def test_extract_fields_config_is_checked():
    with pytest.raises(ValidationError, match="only once"):
        ExtractConfig(fields=[{"name": "a"}, {"name": "a"}])
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        ExtractConfig(fields=[{"name": "a", "pattern": "(unclosed"}])
    with pytest.raises(ValidationError):
        ExtractConfig(fields=[])


# --- wiring and the runtime -----------------------------------------------------------------------------


def test_services_build_the_client_only_when_an_endpoint_is_set(tmp_path):
    assert llm_client(make_settings(tmp_path)) is None
    llm = llm_client(make_settings(tmp_path, llm={"base_url": "http://user:pw@127.0.0.1:1/v1?token=t",
                                                  "api_key": SECRET, "model": "m", "timeout_s": 5,
                                                  "context_tokens": 4096}))
    assert (llm.model, llm.timeout_s, llm.context_tokens) == ("m", 5, 4096)
    assert llm.endpoint == "http://127.0.0.1:1/v1"  # no credentials or query in messages
    assert SECRET not in repr(llm)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory) -> Iterator[tuple[Services, FakeLLM]]:
    fake = FakeLLM()
    llm = {"base_url": fake.url, "api_key": SECRET, "model": "test-model", "timeout_s": 1, "max_retries": 0}
    settings = make_settings(tmp_path_factory.mktemp("data"), llm=llm)
    with Services(settings) as services:
        yield services, fake
    fake.close()


def extract_graph() -> dict:
    fields = node("fields", "llm.extract_fields", fields=INVOICE_FIELDS)
    out, out_edge = output("out", "fields", "fields", source_port="fields")
    return graph([node("doc", "io.input", name="doc", kind="text"), fields, out],
                 [edge("doc", "fields", source_port="value"), out_edge])


def test_extract_fields_runs_in_a_graph_through_the_runtime(runtime):
    services, fake = runtime
    fake.requests.clear()
    fake.values = {"invoice_number": "F-2024-001", "total": 99.5, "issued": None}

    version = services.graphs.save(extract_graph())
    run_id = services.runs.start(version.id, {"doc": "Factura F-2024-001. Total 99,50 €"})
    run = services.runs.wait(run_id, timeout_s=30)

    assert run.state == "succeeded", run.nodes
    assert run.outputs["fields"] == {"invoice_number": "F-2024-001", "total": 99.5, "issued": None}
    (request,) = fake.requests
    assert request["body"]["model"] == "test-model"
    assert "Factura F-2024-001. Total 99,50 €" in request["body"]["messages"][-1]["content"]
    logs = json.dumps(services.runs.logs(run.id), default=str)
    assert SECRET not in logs and SECRET not in json.dumps(run.outputs)


def test_an_endpoint_that_times_out_fails_the_node_clearly_in_a_run(runtime):
    services, fake = runtime
    fake.script = [{"delay": 2.5, "content": "late"}]

    version = services.graphs.save(extract_graph())
    run = services.runs.wait(services.runs.start(version.id, {"doc": "Factura F-1"}), 30)

    assert run.state == "failed"
    node_runs = {n.node_id: n for n in run.nodes}
    assert node_runs["fields"].state == "failed" and node_runs["out"].state == "skipped"
    assert node_runs["fields"].error_code == "llm_timeout"
    assert "did not answer within 1 s" in node_runs["fields"].error_message
    assert SECRET not in json.dumps(services.runs.logs(run.id), default=str)
