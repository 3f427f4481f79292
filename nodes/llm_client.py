"""The one client for language models: any OpenAI-compatible chat-completions endpoint.

OpenAI, Ollama (`/v1`), vLLM and the llama.cpp server all speak this protocol. The client takes plain values
(no settings import); `app/services.py` builds it from `settings.llm` and the engine hands it to every node as
`ctx.llm`.

Retries, deliberately in two layers:
- each request is retried by the `openai` client itself (`max_retries`, exponential backoff from 0.5 s to 8 s,
  honouring `Retry-After`) on 408/409/429/5xx and lost connections. Only the failing request is repeated, so a
  map-reduce summary does not redo the chunks it already has;
- when those retries are spent, 429, 5xx and connection failures become `TransientNodeError`, so the runtime
  retries the whole node later with its own bounded backoff (the node's `max_retries`).
A timeout is a `NodeError` instead: a model that needs more than `timeout_s` for one answer is too slow for
the setting, and retrying the node would only multiply the wait.

Tokens are estimated, not counted: one token per 3 characters. Real tokenizers give about 4 characters per
token for English and 3.5 for Spanish, so the estimate errs on the side of smaller chunks. No tokenizer ships
offline for every model (tiktoken downloads its tables at first use and fits OpenAI models only), and the
context window is a setting the user gives anyway.

The API key is handed to the `openai` client and nothing else: it is not kept on this object, not shown by
`repr`, and cut out of every error message that passes through here.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import ValidationError

from .base import NodeError, TransientNodeError

T = TypeVar("T")
Message = dict[str, str]
Style = Literal["prose", "bullets", "executive"]

CHARS_PER_TOKEN = 3.0
MESSAGE_OVERHEAD_TOKENS = 8  # role and separators of one chat message
PROMPT_RESERVE_TOKENS = 600  # instructions wrapped around a chunk of text
MAX_REDUCE_ROUNDS = 4

NOT_CONFIGURED = ("No language model is configured. Set MINDDOCS_LLM__BASE_URL to an OpenAI-compatible "
                  "endpoint (e.g. http://127.0.0.1:11434/v1 for Ollama), MINDDOCS_LLM__MODEL to the model's "
                  "name and, if the server needs one, MINDDOCS_LLM__API_KEY; then restart MindDocs. "
                  "See docs/ai-nodes.md.")

LANGUAGE_NAMES = {"es": "Spanish", "en": "English"}
STYLE_INSTRUCTIONS = {
    "prose": "Write it as flowing prose in one or a few short paragraphs.",
    "bullets": "Write it as a bulleted list: one point per line, each line starting with '- '.",
    "executive": ("Write it as an executive summary: first one sentence with the main conclusion, then the "
                  "key points, decisions and figures as lines starting with '- ', then the recommended next "
                  "step if the text suggests one."),
}


def count_tokens(text: str) -> int:
    """About how many tokens `text` takes (deliberately high; see the module docstring)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


_WORD = re.compile(r"\S*\w\S*")  # what a reader counts as a word: not a lone '-' bullet or '%'


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


_LEVELS = ((re.compile(r"\n[^\S\n]*\n\s*"), "\n\n"), (re.compile(r"\n"), "\n"),
           (re.compile(r"(?<=[.!?…])\s+"), " "), (re.compile(r"\s+"), " "))


def split_into_chunks(text: str, max_tokens: int) -> list[str]:
    """Cut `text` into pieces of at most `max_tokens` (estimated), at paragraph breaks where possible, then at
    line breaks, sentence ends and spaces; a word longer than a whole chunk is cut where it must be."""
    max_chars = max(1, int(max_tokens * CHARS_PER_TOKEN))
    return [chunk for chunk in _split(text.strip(), max_chars, 0) if chunk.strip()]


def _split(text: str, max_chars: int, level: int) -> list[str]:
    if len(text) <= max_chars:
        return [text]
    if level == len(_LEVELS):
        return [text[i:i + max_chars] for i in range(0, len(text), max_chars)]
    pattern, joiner = _LEVELS[level]
    chunks: list[str] = []
    current = ""
    for part in pattern.split(text):
        if not part.strip():
            continue
        for piece in _split(part, max_chars, level + 1):
            candidate = f"{current}{joiner}{piece}" if current else piece
            if len(candidate) <= max_chars:
                current = candidate
            else:
                if current:
                    chunks.append(current)
                current = piece
    if current:
        chunks.append(current)
    return chunks


def trim_to_words(text: str, max_words: int) -> tuple[str, bool]:
    """`text` cut to at most `max_words` words, at a line or sentence end when one is near; and whether it
    was cut."""
    words = list(_WORD.finditer(text))
    if len(words) <= max_words:
        return text.strip(), False
    prefix = text[:words[max_words - 1].end()]
    ends = [m.end() for m in re.finditer(r"[.!?…](?=\s)|\n", prefix + " ")]
    if ends and count_words(prefix[:ends[-1]]) >= max_words * 0.6:
        return prefix[:ends[-1]].strip(), True
    return prefix.rstrip(" ,;:") + "…", True


def public_endpoint(base_url: str) -> str:
    """The base URL without credentials, query or fragment: safe to show in messages."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}".rstrip("/")


def parse_json_reply(reply: str) -> dict[str, Any]:
    """The JSON object in a model's answer, tolerating code fences and text around it. Raises ValueError."""
    text = reply.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1).strip()
    try:
        value = json.loads(text)
    except ValueError:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise ValueError("the answer contains no JSON object") from None
        value = json.loads(text[start:end + 1])  # its ValueError says where the JSON breaks
    if not isinstance(value, dict):
        raise ValueError(f"the answer is JSON but not an object (it is a {type(value).__name__})")
    return value


def describe_problem(exc: Exception) -> str:
    """A validation or JSON error in words a model can act on."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"field '{'.'.join(str(p) for p in err['loc']) or '(whole answer)'}': "
                         f"{err['msg']} (you gave {json.dumps(err.get('input'), default=str)[:80]})"
                         for err in exc.errors())
    return str(exc)


def client_for(ctx: Any, api_key_secret: str | None) -> Any:
    """The language-model client a node uses: the configured one, or the same endpoint with the node's own
    API key when its 'API key (secret)' setting names a stored secret. None when no endpoint is configured."""
    if ctx.llm is None or not api_key_secret:
        return ctx.llm
    return ctx.llm.with_api_key(ctx.secret(api_key_secret, "API key"))


class LLMReplyInvalid(Exception):
    """The model's answer still broke the JSON schema after the repair round; `error` says how."""

    def __init__(self, error: Exception, reply: str):
        super().__init__(describe_problem(error))
        self.error = error
        self.reply = reply


@dataclass
class Summary:
    text: str
    chunks: int  # pieces the text was cut into
    calls: int  # requests made
    trimmed: bool  # the model wrote more than allowed and the answer was cut


class LLMClient:
    """Chat completions, JSON answers with one repair round, chunking and map-reduce summaries."""

    def __init__(self, *, base_url: str, model: str, api_key: str | None = None, temperature: float = 0.2,
                 timeout_s: float = 120.0, max_retries: int = 2, context_tokens: int = 8192,
                 answer_tokens: int = 1024, parallel_requests: int = 4):
        import openai  # imported here: it takes seconds, and processes without an endpoint never need it

        self.model = model
        self.endpoint = public_endpoint(base_url)
        self.temperature = temperature
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.context_tokens = context_tokens
        self.answer_tokens = answer_tokens
        self.parallel_requests = max(1, parallel_requests)
        self._secret = api_key or ""
        # Servers without keys (Ollama, llama.cpp) ignore the header; the openai package insists on one.
        self._openai = openai.OpenAI(base_url=base_url, api_key=api_key or "no-key", timeout=timeout_s,
                                     max_retries=max_retries)
        self._formats = ["json_schema", "json_object", "none"]  # narrowed when a server refuses one
        self._lock = threading.Lock()
        self._key_hint = "MINDDOCS_LLM__API_KEY"  # where the key comes from, for the refused-key message
        self._keyed: dict[str, LLMClient] = {}  # hash of a node's own API key -> a client that sends it
        self._base_url = base_url
        self._options = {"model": model, "temperature": temperature, "timeout_s": timeout_s,
                         "max_retries": max_retries, "context_tokens": context_tokens,
                         "answer_tokens": answer_tokens, "parallel_requests": parallel_requests}

    def __repr__(self) -> str:
        return f"LLMClient(model={self.model!r}, endpoint={self.endpoint!r})"

    def with_api_key(self, api_key: str) -> LLMClient:
        """The same endpoint and options with another API key (a node's own key, from a stored secret).
        Kept per key, so that repeated runs reuse the connection."""
        digest = hashlib.sha256(api_key.encode("utf-8")).hexdigest()
        with self._lock:
            client = self._keyed.get(digest)
            if client is None:
                if len(self._keyed) >= 32:
                    self._keyed.clear()
                client = self._keyed[digest] = LLMClient(base_url=self._base_url, api_key=api_key,
                                                         **self._options)
                client._key_hint = "the secret chosen in the node's 'API key' setting"
            return client

    @property
    def input_budget(self) -> int:
        """Tokens of text that fit one request next to the instructions and the answer."""
        return max(256, self.context_tokens - self.answer_tokens - PROMPT_RESERVE_TOKENS)

    def fits(self, messages: list[Message]) -> bool:
        used = sum(count_tokens(m["content"]) + MESSAGE_OVERHEAD_TOKENS for m in messages)
        return used <= self.context_tokens - self.answer_tokens

    # --- one request ------------------------------------------------------------------------------
    def chat(self, messages: list[Message], *, temperature: float | None = None,
             response_format: dict[str, Any] | None = None) -> str:
        """The model's answer to `messages`. Raises NodeError or TransientNodeError with a plain sentence."""
        import openai

        try:
            return self._answer(self._create(messages, temperature, response_format))
        except openai.OpenAIError as exc:
            raise self._node_error(exc) from None

    def _create(self, messages: list[Message], temperature: float | None,
                response_format: dict[str, Any] | None) -> Any:
        extra: dict[str, Any] = {"response_format": response_format} if response_format else {}
        return self._openai.chat.completions.create(
            model=self.model, messages=messages,  # type: ignore[arg-type]
            temperature=self.temperature if temperature is None else temperature, **extra)

    def _answer(self, completion: Any) -> str:
        if not completion.choices:
            raise NodeError(f"The language model at {self.endpoint} answered with no choices.",
                            code="llm_error")
        choice = completion.choices[0]
        content = choice.message.content or ""
        if choice.finish_reason == "content_filter":
            raise NodeError("The language model's content filter stopped the answer.", code="llm_refused")
        if not content.strip():
            raise NodeError(f"The language model answered with an empty text (finish reason: "
                            f"{choice.finish_reason}).", code="llm_empty")
        return content

    def _node_error(self, exc: Exception) -> Exception:
        """The sentence a person sees for a failed request; transient failures are retried by the runtime."""
        import openai

        where, tries = f"The language model at {self.endpoint}", self._attempts()
        if isinstance(exc, openai.APITimeoutError):
            return NodeError(f"{where} did not answer within {self.timeout_s:g} s ({tries}). Raise "
                             "MINDDOCS_LLM__TIMEOUT_S, use a faster model or send less text.",
                             code="llm_timeout")
        if isinstance(exc, openai.APIConnectionError):
            return TransientNodeError(f"{where} cannot be reached ({tries}); is the server running?")
        if isinstance(exc, openai.RateLimitError):
            return TransientNodeError(f"{where} is limiting requests (429, {tries}).")
        if isinstance(exc, openai.InternalServerError):
            return TransientNodeError(f"{where} failed ({exc.status_code}, {tries}).")
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return NodeError(f"{where} refused the API key ({exc.status_code}); check {self._key_hint}.",
                             code="llm_auth")
        if isinstance(exc, openai.NotFoundError):
            return NodeError(f"{where} has no model '{self.model}' or no chat endpoint (404); check "
                             "MINDDOCS_LLM__MODEL, and that MINDDOCS_LLM__BASE_URL ends in /v1 where the "
                             "server needs it.", code="llm_not_found")
        if isinstance(exc, openai.APIStatusError):
            return NodeError(f"{where} refused the request ({exc.status_code}): "
                             f"{self._redact(_server_message(exc))}.", code="llm_refused")
        return NodeError(f"{where} gave an unusable answer: {self._redact(str(exc))[:300]}.",
                         code="llm_error")

    def _attempts(self) -> str:
        return "1 attempt" if self.max_retries == 0 else f"{self.max_retries + 1} attempts"

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    # --- JSON answers -----------------------------------------------------------------------------
    def chat_json(self, messages: list[Message], *, schema: dict[str, Any],
                  validate: Callable[[dict[str, Any]], T],
                  temperature: float | None = None) -> tuple[T, dict[str, Any]]:
        """An answer that is JSON matching `schema` and passes `validate` (which raises ValueError or
        ValidationError). A bad answer is shown to the model with the problem once; a second bad answer
        raises LLMReplyInvalid. Returns the validated value and {"repaired", "response_format"}."""
        rules = ("Answer with a single JSON object and nothing else. It must match this JSON Schema:\n"
                 + json.dumps(schema, ensure_ascii=False))
        # One system message at the start: some chat templates (Mistral, Gemma) refuse a second one.
        if messages and messages[0]["role"] == "system":
            first, *rest = messages
            conversation = [{"role": "system", "content": f"{first['content']}\n\n{rules}"}, *rest]
        else:
            conversation = [{"role": "system", "content": rules}, *messages]
        for attempt in range(2):
            reply, used_format = self._chat_structured(conversation, schema, temperature)
            try:
                value = validate(parse_json_reply(reply))
                return value, {"repaired": attempt == 1, "response_format": used_format}
            except ValueError as exc:  # json's and pydantic's errors are ValueErrors
                problem = exc
            correction = (f"That answer cannot be used: {describe_problem(problem)}. Answer again with only "
                          "the corrected JSON object.")
            conversation += [{"role": "assistant", "content": reply}, {"role": "user", "content": correction}]
        raise LLMReplyInvalid(problem, reply)

    def _chat_structured(self, messages: list[Message], schema: dict[str, Any],
                         temperature: float | None) -> tuple[str, str]:
        """Ask with the strongest JSON mode the server accepts: json_schema, then json_object, then none
        (the schema is in the prompt either way). A refused mode is not tried again by this client."""
        import openai

        while True:
            mode = self._formats[0]
            response_format = {"json_schema": {"type": "json_schema", "json_schema": {
                "name": "answer", "schema": schema, "strict": True}}, "json_object": {"type": "json_object"},
                "none": None}[mode]
            try:
                return self._answer(self._create(messages, temperature, response_format)), mode
            except openai.APIStatusError as exc:
                if mode == "none" or not _refuses_json_mode(exc):
                    raise self._node_error(exc) from None
                with self._lock:
                    if mode in self._formats:
                        self._formats.remove(mode)
            except openai.OpenAIError as exc:
                raise self._node_error(exc) from None

    # --- long texts -------------------------------------------------------------------------------
    def summarise(self, text: str, *, max_words: int = 150, style: Style = "prose", language: str = "same",
                  temperature: float | None = None) -> Summary:
        """Summarise `text`; a text longer than the context is summarised map-reduce: notes per chunk
        (in parallel), notes condensed until they fit, then one final summary from the notes."""
        budget = self.input_budget
        chunks = split_into_chunks(text, budget)
        calls = 0
        if len(chunks) > 1:
            note_words = max(60, min(300, max_words))
            notes = self._map(lambda part: self.chat(_notes_prompt(part[1], part[0], len(chunks), note_words,
                                                                   language), temperature=temperature),
                              list(enumerate(chunks, 1)))
            calls += len(chunks)
            for _ in range(MAX_REDUCE_ROUNDS):
                joined = "\n\n".join(notes)
                if count_tokens(joined) <= budget:
                    break
                groups = split_into_chunks(joined, budget)
                notes = self._map(lambda group: self.chat(_condense_prompt(group, note_words, language),
                                                          temperature=temperature), groups)
                calls += len(groups)
            source, from_notes = "\n\n".join(notes), True
        else:
            source, from_notes = (chunks[0] if chunks else text), False
        answer = self.chat(_summary_prompt(source, max_words, style, language, from_notes),
                           temperature=temperature)
        summary, trimmed = trim_to_words(answer, max_words)
        return Summary(text=summary, chunks=max(1, len(chunks)), calls=calls + 1, trimmed=trimmed)

    def _map(self, call: Callable[[Any], str], items: list[Any]) -> list[str]:
        if len(items) == 1 or self.parallel_requests == 1:
            return [call(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.parallel_requests, len(items))) as pool:
            return list(pool.map(call, items))  # in order; the first failure is raised


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return str(message)[:300].rstrip(".")
    return str(getattr(exc, "message", "") or exc)[:300].rstrip(".")


def _refuses_json_mode(exc: Any) -> bool:
    """Whether a 400/422 is the server refusing `response_format` (vLLM, llama.cpp, older models)."""
    message = _server_message(exc)
    return exc.status_code in (400, 422) and bool(re.search(r"response_format|json|schema", message, re.IGNORECASE))


def _language_line(language: str) -> str:
    name = LANGUAGE_NAMES.get(language)
    return f"Write in {name}." if name else "Write in the same language as the text."


def _notes_prompt(text: str, part: int, parts: int, words: int, language: str) -> list[Message]:
    return [
        {"role": "system", "content": "You take notes on documents for a later summary. Keep facts, names, "
         "figures, dates and decisions; leave out repetition. Use only what the text says."},
        {"role": "user", "content": f"This is part {part} of {parts} of a document. Write notes on it in at "
         f"most {words} words. {_language_line(language)}\n\n<text>\n{text}\n</text>"},
    ]


def _condense_prompt(notes: str, words: int, language: str) -> list[Message]:
    return [
        {"role": "system", "content": "You condense notes on a document without losing facts, names, figures "
         "or decisions."},
        {"role": "user", "content": f"Condense these notes into at most {words} words. "
         f"{_language_line(language)}\n\n<notes>\n{notes}\n</notes>"},
    ]


def _summary_prompt(source: str, max_words: int, style: str, language: str,
                    from_notes: bool) -> list[Message]:
    what = "these notes on a long document (in order)" if from_notes else "this text"
    return [
        {"role": "system", "content": "You write faithful summaries. Use only what the text says; never add "
         "facts. Answer with the summary alone, without a title or preamble."},
        {"role": "user", "content": f"Summarise {what} in at most {max_words} words. "
         f"{STYLE_INSTRUCTIONS.get(style, STYLE_INSTRUCTIONS['prose'])} {_language_line(language)}"
         f"\n\n<text>\n{source}\n</text>"},
    ]
