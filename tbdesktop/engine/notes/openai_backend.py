"""Progress notes from any OpenAI-compatible chat-completions server, answered in a strict JSON schema.

Every sentence must cite transcript segments that exist in the part the server was shown, and every risk flag
must quote words found in its segment; what fails either check is left out and counted in the warnings. A
transcript too long for the model's context is written in parts whose notes are joined in order.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from tbdesktop.engine.notes.openai_prompt import (
    SUMMARY_PROMPT,
    SYSTEM_PROMPT,
    Dropped,
    InvalidAnswer,
    Part,
    answer_tokens,
    check_part,
    estimate_tokens,
    load_json,
    note_schema,
    parse_note,
    parse_summary,
    plan_chunks,
    property_names,
    render_line,
    summary_message,
    summary_schema,
    trim_summary,
    trim_words,
    user_message,
)
from tbdesktop.engine.notes.risk import detect_risks
from tbdesktop.engine.notes.risk_merge import checked_summary, merge_flags, risk_content
from tbdesktop.engine.notes.summary import summarise
from tbdesktop.engine.notes.types import (
    STAGE,
    GeneratedNote,
    NoteSection,
    NotesError,
    NoteTemplateSpec,
    TranscriptLine,
)
from tbdesktop.engine.progress import check_cancel, reporter
from tbdesktop.engine.remote import display_host, http_base, parse_retry_after
from tbdesktop.engine.types import CancelCheck, ProgressCallback

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)
# The SDK's DEBUG log carries request bodies (transcripts): never below INFO, whatever the app's level.
logging.getLogger("openai").setLevel(max(logging.getLogger("openai").level, logging.INFO))
_report = reporter(STAGE)
T = TypeVar("T")

POLL_S = 0.1  # cancellation is checked at least this often, during requests and between them
RETRYABLE_STATUS = frozenset({408, 409, 429})  # and every 5xx
MIN_TRANSCRIPT_TOKENS = 256  # below this a part would hold a handful of lines: the context setting is wrong
PROMPT_FRAMING_TOKENS = 50  # role markers and message framing the server adds around our text


class OpenAINoteGenerator:
    """Writes notes through ``POST {base_url}/chat/completions``; the API key is held here and never logged.

    ``context_tokens`` is the model's context size: longer transcripts are sent in parts. Connection errors,
    timeouts, 408, 409, 429 and 5xx are retried up to ``max_retries`` times after ``backoff_s`` doubling (with
    jitter, at most ``max_backoff_s``) or the server's ``Retry-After`` (at most ``max_retry_after_s``); an answer
    that is not a valid note is asked for again at once. Other refusals fail at once with a `NotesError`.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None,
        *,
        timeout_s: float = 120,
        max_retries: int = 3,
        context_tokens: int = 16000,
        http_client: Any = None,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        max_retry_after_s: float = 30.0,
    ) -> None:
        if not model:
            raise ValueError("a model name is required")
        if timeout_s <= 0 or max_retries < 0 or context_tokens <= 0:
            raise ValueError("timeout_s and context_tokens must be > 0 and max_retries >= 0")
        self.base_url = api_base(base_url)
        self.host = display_host(self.base_url)
        self.model = model
        self.name = f"openai:{model}"
        self._api_key = api_key or None
        self.timeout_s = float(timeout_s)
        self.max_retries = max_retries
        self.context_tokens = context_tokens
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_retry_after_s = max_retry_after_s
        self._http_client = http_client

    def __repr__(self) -> str:
        key = "set" if self._api_key else None
        return f"OpenAINoteGenerator(base_url={self.base_url!r}, model={self.model!r}, api_key={key})"

    def generate(
        self,
        lines: Sequence[TranscriptLine],
        template: NoteTemplateSpec,
        *,
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> GeneratedNote:
        check_cancel(should_cancel)
        _report(on_progress, 0.0, None)
        started = time.perf_counter()
        lines = list(lines)
        if not lines:
            _report(on_progress, 1.0, None)
            empty = tuple(NoteSection(s.key, s.title) for s in template.sections)
            return GeneratedNote(self.name, empty, "", warnings=("The transcript is empty; nothing was sent.",))
        names = property_names(template)
        schema = note_schema(template, names)
        rendered = [render_line(line) for line in lines]
        chunks = plan_chunks(rendered, self._transcript_budget(template, names, schema))
        dropped = Dropped()
        parts: list[Part] = []
        client = self._client()
        try:
            for n, chunk in enumerate(chunks, start=1):
                transcript = "\n".join(rendered[i] for i in chunk)
                messages = [_system(SYSTEM_PROMPT), _user(user_message(template, names, transcript, n, len(chunks)))]
                raw = self._request(
                    client, messages, "progress_note", schema, lambda d: parse_note(d, template, names), should_cancel
                )
                parts.append(check_part(raw, [lines[i] for i in chunk], dropped))
                _report(on_progress, n / (len(chunks) + 1), None)
            sections = tuple(
                NoteSection(s.key, s.title, trim_words([x for p in parts for x in p.sections[s.key]], s, dropped))
                for s in template.sections
            )
            if len(parts) == 1:
                summary = parts[0].summary
            else:
                summary = self._summary(client, sections, parts, dropped, should_cancel)
        finally:
            if self._http_client is None:
                client.close()
        spoken = [line for line in lines if line.text.strip()]
        flags = merge_flags(detect_risks(spoken), [f for p in parts for f in p.risk_flags])
        with_risk = tuple(risk_content(sections, template, flags, lines))
        summary = checked_summary(trim_summary(summary), with_risk, lines) or summarise(spoken, with_risk, flags)
        note = GeneratedNote(
            self.name, with_risk, summary, flags, dropped.warnings(), removed_statements=dropped.removed
        )
        _report(on_progress, 1.0, None)
        log.info(
            "note generated",
            extra={
                "host": self.host,
                "model": self.model,
                "lines": len(lines),
                "parts": len(chunks),
                "sections_filled": sum(1 for s in sections if s.sentences),
                "risk_flags": len(flags),
                "dropped_sentences": dropped.removed + dropped.over_limit,
                "dropped_flags": dropped.unknown_flags + dropped.unquoted_flags,
                "seconds": round(time.perf_counter() - started, 2),
            },
        )
        return note

    def _transcript_budget(self, template: NoteTemplateSpec, names: Mapping[str, str], schema: Any) -> int:
        """Tokens left for transcript lines once the prompt, the schema and the answer have their room."""
        overhead = (
            estimate_tokens(SYSTEM_PROMPT)
            + estimate_tokens(user_message(template, names, "", 99, 99))
            + estimate_tokens(json.dumps(schema))
            + PROMPT_FRAMING_TOKENS
        )
        budget = self.context_tokens - overhead - min(answer_tokens(template), self.context_tokens // 3)
        if budget < MIN_TRANSCRIPT_TOKENS:
            raise NotesError(
                f"The note model's context of {self.context_tokens} tokens is too small for this template; "
                f"set a larger context size."
            )
        return budget

    def _summary(
        self,
        client: openai.OpenAI,
        sections: Sequence[NoteSection],
        parts: Sequence[Part],
        dropped: Dropped,
        should_cancel: CancelCheck | None,
    ) -> str:
        """One or two sentences about the joined note; the first part's summary when that request fails."""
        fallback = next((p.summary for p in parts if p.summary.strip()), "")
        filled = [(s.title, s.text) for s in sections if s.sentences]
        if filled:
            messages = [_system(SUMMARY_PROMPT), _user(summary_message(filled))]
            try:
                return self._request(client, messages, "note_summary", summary_schema(), parse_summary, should_cancel)
            except NotesError as exc:
                log.warning("note summary failed", extra={"host": self.host, "error_type": type(exc).__name__})
        dropped.summary_fallback = True
        return fallback

    def _client(self) -> openai.OpenAI:
        import openai

        return openai.OpenAI(
            base_url=self.base_url,
            api_key=self._api_key or "not-needed",
            timeout=self.timeout_s,
            max_retries=0,  # retried here, with our backoff and cancellation
            http_client=self._http_client,
        )

    def _request(
        self,
        client: openai.OpenAI,
        messages: list[dict[str, str]],
        schema_name: str,
        schema: Any,
        parse: Callable[[Any], T],
        should_cancel: CancelCheck | None,
    ) -> T:
        import openai

        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "strict": True, "schema": schema},
            },
        }
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            check_cancel(should_cancel)
            sent = time.perf_counter()
            status: int | None = None
            delay = 0.0
            try:
                completion = self._call(client, kwargs, should_cancel)
            except openai.APIStatusError as exc:
                status = exc.status_code
                failure = self._status_error(status, attempts)
                if status not in RETRYABLE_STATUS and status < 500:
                    log.error("note request refused", extra={"host": self.host, "status": status})
                    raise failure from None
                delay = self._backoff(attempt, retry_after(exc.response.headers))
            except openai.APITimeoutError:
                failure = NotesError(
                    f"The note server at {self.host} did not answer within {self.timeout_s:g} s ({attempts} tries)."
                )
                delay = self._backoff(attempt, None)
            except openai.APIConnectionError:
                failure = NotesError(f"The note server is unreachable at {self.host}.")
                delay = self._backoff(attempt, None)
            except openai.APIError:  # a body the SDK could not read
                failure = _invalid("it could not be read")
            else:
                try:
                    value = parse(load_json(*_content(completion)))
                except InvalidAnswer as exc:
                    failure = _invalid(exc.reason)
                else:
                    log.info(
                        "note request answered",
                        extra={"host": self.host, "attempt": attempt, "seconds": round(time.perf_counter() - sent, 2)},
                    )
                    return value
            extra = {"host": self.host, "status": status, "attempt": attempt, "failure": failure.message}
            if attempt == attempts:
                log.error("note request gave up", extra=extra)
                raise failure
            log.warning("note request will be retried", extra={**extra, "delay_s": round(delay, 2)})
            _wait(delay, should_cancel)
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(self, client: openai.OpenAI, kwargs: dict[str, Any], should_cancel: CancelCheck | None) -> Any:
        """The request on a daemon thread, so a cancel is seen at once; a request left behind ends on its own."""
        box: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

        def work() -> None:
            try:
                box.put((True, client.chat.completions.create(**kwargs)))
            except Exception as exc:  # handed back to the caller's thread
                box.put((False, exc))

        threading.Thread(target=work, name="notes-request", daemon=True).start()
        while True:
            try:
                ok, value = box.get(timeout=POLL_S)
            except queue.Empty:
                check_cancel(should_cancel)
                continue
            if ok:
                return value
            raise value

    def _status_error(self, status: int, attempts: int) -> NotesError:
        if status in (401, 403):
            if status == 401 and not self._api_key:
                return NotesError(f"The note server requires an API key ({status}).")
            return NotesError(f"The note server refused the API key ({status}).")
        if status == 404:
            return NotesError(f"The note server at {self.host} has no chat endpoint or no model '{self.model}' (404).")
        if status == 429:
            return NotesError(f"The note server kept refusing requests as too many (429) after {attempts} tries.")
        if status >= 500 or status in RETRYABLE_STATUS:
            return NotesError(f"The note server at {self.host} kept failing ({status}) after {attempts} tries.")
        return NotesError(
            f"The note server rejected the request ({status}); the model may not support JSON-schema answers, "
            "or its context may be smaller than the one set."
        )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_retry_after_s)
        return min(self.backoff_s * 2.0 ** (attempt - 1), self.max_backoff_s) * random.uniform(0.5, 1.0)


def api_base(base_url: str) -> str:
    """``http://host``, ``http://host/v1`` and a full endpoint address all name ``http://host/v1``."""
    base = http_base(base_url)
    if base is None:
        raise NotesError("The note server address is not an http:// or https:// URL.")
    for suffix in ("/chat/completions", "/audio/transcriptions"):
        base = base.removesuffix(suffix)
    return base if urlsplit(base).path else f"{base}/v1"


def retry_after(headers: Mapping[str, str] | Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (delta-seconds or HTTP date); None when absent."""
    try:
        return max(float(headers.get("retry-after-ms") or "") / 1000.0, 0.0)
    except (TypeError, ValueError):
        pass
    return parse_retry_after(headers.get("retry-after"))


def _content(completion: Any) -> tuple[str, bool]:
    """The answer's text and whether it was cut off; a refusal raises at once."""
    choices = getattr(completion, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise InvalidAnswer("it has no choices")
    message = getattr(choices[0], "message", None)
    finish = getattr(choices[0], "finish_reason", None)
    if getattr(message, "refusal", None) or finish == "content_filter":
        raise NotesError("The note server refused to write a note for this session.")
    content = getattr(message, "content", None)
    if not isinstance(content, str) or not content.strip():
        raise InvalidAnswer("it is empty")
    return content, finish == "length"


def _wait(delay: float, should_cancel: CancelCheck | None) -> None:
    deadline = time.monotonic() + delay
    while True:
        check_cancel(should_cancel)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(POLL_S, remaining))


def _invalid(reason: str) -> NotesError:
    return NotesError(f"The note server returned an answer that is not a valid note ({reason}).")


def _system(text: str) -> dict[str, str]:
    return {"role": "system", "content": text}


def _user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}
