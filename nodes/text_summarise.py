"""text.summarise: a shorter text, written by the language model or, offline, picked from its sentences."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from . import summarise_extractive
from .base import NodeContext, NodeInputError, NodeType, SecretName
from .llm_client import LANGUAGE_NAMES, client_for, count_words
from .ports import Json, Text
from .registry import register


class SummariseConfig(BaseModel):
    max_words: int = Field(150, ge=10, le=2000, description="Longest summary allowed, in words")
    style: Literal["prose", "bullets", "executive"] = Field(
        "prose", description="Prose: a few paragraphs. Bullets: a list of key points. Executive: the main "
        "conclusion first, then key points and figures")
    language: Literal["same", "es", "en"] = Field(
        "same", description="Language of the summary: the same as the text, Spanish (es) or English (en). "
        "Only a language model can translate; the offline summary keeps the text's language")
    use_llm: bool = Field(
        True, description="Use the configured language model. Off: always the offline summary, and the text "
        "never leaves MindDocs")
    api_key: SecretName | None = Field(
        None, title="API key (secret)",
        description="Use this stored secret as the API key for this node instead of the configured one "
        "(Secrets page); empty: the configured key")


class SummariseIn(BaseModel):
    text: Text


class SummariseOut(BaseModel):
    summary: Text
    info: Json = Field(description="How the summary was made: method 'llm' or 'extractive', model, chunks…")


@register
class Summarise(NodeType[SummariseConfig, SummariseIn, SummariseOut]):
    """Shorten a text to at most `max_words` words.

    With a language model configured (MINDDOCS_LLM__BASE_URL) the model writes the summary; texts longer than
    its context are cut into chunks, summarised chunk by chunk, then summarised again as a whole. Without one,
    or with `use_llm` off, the summary is extractive: the text's most central sentences, unchanged and in
    order (TextRank). `info.method` says which one ran.
    """

    type_id = "text.summarise"
    uses_llm = True
    deterministic = False  # with an LLM, the summary differs from one run to the next
    display_name = "Summarise"
    category = "text"
    queue = "default"  # the model call is I/O; the extractive path takes about 7 s per 100 PDF pages
    timeout_s = 600
    max_retries = 2  # for rate limits and server errors left after the client's own retries
    retry_delay_s = 5.0

    def run(self, ctx: NodeContext, config: SummariseConfig, inputs: SummariseIn) -> SummariseOut:
        if not inputs.text.strip():
            raise NodeInputError("text", "The text is empty; connect a node that produces text.")
        language = summarise_extractive.detect_language(inputs.text)
        llm = client_for(ctx, config.api_key) if config.use_llm else None
        if llm is not None:
            result = llm.summarise(inputs.text, max_words=config.max_words, style=config.style,
                                       language=config.language)
            ctx.log(f"Summarised with {llm.model}: {result.calls} request(s), {result.chunks} chunk(s).")
            info = {"method": "llm", "model": llm.model, "chunks": result.chunks, "calls": result.calls,
                    "trimmed": result.trimmed}
            summary = result.text
        else:
            extract = summarise_extractive.summarise(inputs.text, max_words=config.max_words,
                                                     style=config.style)
            if not extract.sentences:
                raise NodeInputError("text", "The text has no sentences to summarise (it holds no words).")
            info = {"method": "extractive", "model": None, "algorithm": "textrank", "chunks": 1,
                    "sentences": len(extract.sentences), "candidates": extract.candidates,
                    "truncated": extract.truncated,
                    "note": "Sentences picked from the text, unchanged; configure a language model for a "
                            "written summary."}
            if config.language not in ("same", language):
                info["note"] += (f" The text is in {LANGUAGE_NAMES[language]}; an extractive summary cannot "
                                 f"be translated into {LANGUAGE_NAMES[config.language]}.")
            summary = extract.text
        if info["method"] == "llm" and config.language != "same":
            language = config.language
        info.update(style=config.style, language=language, words=count_words(summary),
                    max_words=config.max_words)
        return SummariseOut(summary=summary, info=info)
