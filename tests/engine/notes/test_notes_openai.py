"""The OpenAI-compatible note generator against a real local HTTP server speaking the chat-completions protocol.

By default the fake server writes a note from the transcript it is sent: each section cites the first and last
segment numbers it sees, so evidence, chunking and joining are checked against what was actually sent.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tbdesktop.engine.errors import Cancelled
from tbdesktop.engine.notes import (
    NOT_DISCUSSED,
    RISK_KINDS,
    RISK_SEVERITIES,
    STAGE,
    NoteGenerator,
    NotesError,
    NoteTemplateSpec,
    TranscriptLine,
)
from tbdesktop.engine.notes.openai_backend import OpenAINoteGenerator, api_base, retry_after
from tbdesktop.engine.notes.openai_prompt import find_quote, plan_chunks, trim_summary

KEY = "sk-test-notes-0123456789"
MODEL = "note-model-1"
LINE = re.compile(r"^\[(\d+)\] \((\w+(?: \d+)?)\) (\d\d):(\d\d): (.*)$")

TEMPLATE = NoteTemplateSpec.from_content(
    "SOAP",
    {
        "sections": [
            {"key": "subjective", "title": "Subjective", "instructions": "What the client reports.", "max_words": 120},
            {"key": "assessment", "title": "Assessment", "instructions": "The therapist's assessment."},
            {"key": "plan", "title": "Plan", "instructions": "Next steps and homework.", "max_words": 60},
        ]
    },
)

SESSION = [
    TranscriptLine(0, 0.0, 4.0, "SPEAKER_00", "therapist", "How has your week been since we last met?"),
    TranscriptLine(1, 4.5, 12.0, "SPEAKER_01", "client", "Work has been stressful and I have slept badly."),
    TranscriptLine(2, 12.5, 30.0, "SPEAKER_00", "therapist", "Have you had any thoughts of hurting yourself?"),
    TranscriptLine(3, 65.2, 71.0, "SPEAKER_01", "client", "Sometimes I feel like I  don't want to be here anymore."),
    TranscriptLine(4, 72.0, 80.0, "SPEAKER_02", None, "Sorry to interrupt, the next client is waiting."),
    TranscriptLine(5, 3725.0, 3730.0, "SPEAKER_00", "therapist", "Let's try the breathing exercise daily."),
]


# ---------------------------------------------------------------- the fake server


@dataclass
class Received:
    path: str
    auth: str | None
    body: dict[str, Any]

    @property
    def schema_name(self) -> str:
        return str(self.body["response_format"]["json_schema"]["name"])

    @property
    def transcript(self) -> list[tuple[int, str, str, str]]:
        """(idx, speaker, mm:ss, text) of each numbered line of the user message."""
        rows = []
        for row in self.body["messages"][-1]["content"].splitlines():
            if m := LINE.match(row):
                rows.append((int(m[1]), m[2], f"{m[3]}:{m[4]}", m[5]))
        return rows


Reply = tuple[int, dict[str, str], bytes]


@dataclass
class FakeChat:
    """State shared with the handler threads: scripted replies first, then ``default``; every request recorded."""

    script: deque[Callable[[Received], Reply]] = field(default_factory=deque)
    default: Callable[[Received], Reply] | None = None
    received: list[Received] = field(default_factory=list)
    answered: int = 0
    release: threading.Event = field(default_factory=threading.Event)  # ends stalled replies at teardown
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, path: str, auth: str | None, raw: bytes) -> Reply:
        if path != "/v1/chat/completions":
            return 404, {}, b'{"error": {"message": "not found"}}'
        request = Received(path, auth, json.loads(raw))
        with self.lock:
            self.received.append(request)
            reply = self.script.popleft() if self.script else self.default or writes_note
        try:
            return reply(request)
        finally:
            with self.lock:
                self.answered += 1

    def stall(self, seconds: float) -> Callable[[Received], Reply]:
        def reply(request: Received) -> Reply:
            self.release.wait(seconds)
            return writes_note(request)

        return reply


def completion(content: str | None, *, finish: str = "stop", refusal: str | None = None) -> Reply:
    message = {"role": "assistant", "content": content, "refusal": refusal}
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }
    return 200, {}, json.dumps(body).encode()


def answer(**content: Any) -> Callable[[Received], Reply]:
    return lambda request: completion(json.dumps(content))


def content_reply(text: str | None, **kwargs: Any) -> Callable[[Received], Reply]:
    return lambda request: completion(text, **kwargs)


def status(code: int, headers: dict[str, str] | None = None) -> Callable[[Received], Reply]:
    return lambda request: (code, headers or {}, b'{"error": {"message": "no", "type": "error"}}')


def section(*sentences: tuple[str, list[Any]]) -> dict[str, Any]:
    return {"sentences": [{"text": text, "evidence": evidence} for text, evidence in sentences]}


def writes_note(request: Received) -> Reply:
    """A note from what was sent: first and last segment cited; the summary request gets a fixed summary."""
    if request.schema_name == "note_summary":
        return completion(json.dumps({"summary": "The client talked about work, sleep and family."}))
    idx = [row[0] for row in request.transcript]
    first, last = idx[0], idx[-1]
    note = {
        "subjective": section((f"The client talked about work and sleep in line {first}.", [first])),
        "assessment": section((NOT_DISCUSSED, [])),
        "plan": section((f"Work and sleep from line {first} to {last}.", [first, last])),
        "risk_flags": [],
        "summary": f"Work and sleep from line {first}.",
    }
    return completion(json.dumps(note))


def _make_handler(state: FakeChat) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            code, headers, payload = state.handle(self.path, self.headers.get("Authorization"), raw)
            try:
                self.send_response(code)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client gave up on a stalled reply
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(autouse=True)
def model_flags_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about what the server answers; the rule lexicon's own flags are tested beside them."""
    monkeypatch.setattr("tbdesktop.engine.notes.openai_backend.detect_risks", lambda lines: ())


@pytest.fixture
def server() -> Iterator[tuple[FakeChat, str]]:
    state = FakeChat()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()


def generator(url: str, **kwargs: Any) -> OpenAINoteGenerator:
    kwargs.setdefault("backoff_s", 0.01)
    kwargs.setdefault("timeout_s", 10)
    return OpenAINoteGenerator(url, MODEL, kwargs.pop("api_key", KEY), **kwargs)


GOOD = {
    "subjective": section(
        ("The client reported a stressful week at work and poor sleep.", [1]),
        ("The client said they sometimes feel they do not want to be here.", [3]),
    ),
    "assessment": section((NOT_DISCUSSED, [])),
    "plan": section(("The client will practise a breathing exercise daily.", [5])),
    "risk_flags": [
        {"kind": "suicidal_ideation", "severity": "moderate", "quote": "i don't want to be here", "segment_idx": 3}
    ],
    "summary": "Stressful week with poor sleep; passive suicidal ideation discussed; breathing exercise planned.",
}


# ---------------------------------------------------------------- requests and answers


def test_is_a_note_generator_and_keeps_the_key_out_of_repr() -> None:
    notes: NoteGenerator = generator("http://127.0.0.1:9")
    assert notes.name == f"openai:{MODEL}"
    assert KEY not in repr(notes)


def test_request_carries_model_prompt_numbered_transcript_and_strict_schema(server: tuple[FakeChat, str]) -> None:
    state, url = server
    state.default = answer(**GOOD)
    generator(url).generate(SESSION, TEMPLATE)

    assert len(state.received) == 1
    request = state.received[0]
    assert request.path == "/v1/chat/completions"
    assert request.auth == f"Bearer {KEY}"
    assert request.body["model"] == MODEL
    system, user = request.body["messages"]
    assert system["role"] == "system"
    assert "licensed therapist" in system["content"]
    assert f'"{NOT_DISCUSSED}"' in system["content"]
    assert "denied" in system["content"]
    assert user["role"] == "user"
    for s in TEMPLATE.sections:
        assert s.title in user["content"]
        assert s.instructions in user["content"]
    assert "at most 120 words" in user["content"]
    assert "[0] (Therapist) 00:00: How has your week been since we last met?" in user["content"]
    assert "[3] (Client) 01:05: Sometimes I feel like I don't want to be here anymore." in user["content"]
    assert "[4] (Speaker 3) 01:12: Sorry to interrupt" in user["content"]
    assert "[5] (Therapist) 62:05: " in user["content"]

    fmt = request.body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "progress_note"
    assert fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    keys = [s.key for s in TEMPLATE.sections]
    assert list(schema["properties"]) == [*keys, "risk_flags", "summary"]
    assert schema["required"] == list(schema["properties"])
    assert schema["additionalProperties"] is False
    sentence = schema["properties"]["plan"]["properties"]["sentences"]["items"]
    assert sentence["properties"]["evidence"] == {"type": "array", "items": {"type": "integer"}}
    assert sentence["required"] == ["text", "evidence"]
    assert sentence["additionalProperties"] is False
    flag = schema["properties"]["risk_flags"]["items"]
    assert flag["properties"]["kind"]["enum"] == list(RISK_KINDS)
    assert flag["properties"]["severity"]["enum"] == list(RISK_SEVERITIES)
    assert flag["required"] == ["kind", "severity", "quote", "segment_idx"]
    assert schema["properties"]["summary"] == {"type": "string"}


def test_section_keys_that_clash_with_answer_fields_are_renamed(server: tuple[FakeChat, str]) -> None:
    state, url = server
    template = NoteTemplateSpec.from_content(
        "Brief", {"sections": [{"key": "summary", "title": "Session summary", "instructions": "What happened."}]}
    )
    state.default = answer(
        section_summary=section(("The client described a stressful week.", [1])),
        risk_flags=[],
        summary="The client described a stressful week at work.",
    )
    note = generator(url).generate(SESSION, template)
    schema = state.received[0].body["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"]) == ["section_summary", "risk_flags", "summary"]
    assert note.sections[0].key == "summary"
    assert note.sections[0].evidence == (1,)
    assert note.summary == "The client described a stressful week at work."


def test_valid_answer_becomes_the_note(server: tuple[FakeChat, str]) -> None:
    state, url = server
    state.default = answer(**GOOD)
    progress: list[tuple[str, float, float | None]] = []
    note = generator(url).generate(SESSION, TEMPLATE, on_progress=lambda *a: progress.append(a))

    assert note.generator == f"openai:{MODEL}"
    assert [s.key for s in note.sections] == ["subjective", "assessment", "plan"]
    assert [s.title for s in note.sections] == ["Subjective", "Assessment", "Plan"]
    subjective, assessment, plan = note.sections
    assert [x.evidence for x in subjective.sentences] == [(1,), (3,)]
    assert subjective.text.startswith("The client reported a stressful week")
    # the model's suicidal-ideation flag is carried into the assessment, cited (nothing else was said there)
    assert [(x.text.split(" (")[0], x.evidence) for x in assessment.sentences] == [("Suicidal ideation", (3,))]
    assert plan.evidence == (5,)
    assert len(note.risk_flags) == 1
    flag = note.risk_flags[0]
    assert (flag.kind, flag.severity, flag.segment_idx) == ("suicidal_ideation", "moderate", 3)
    assert flag.quote == "I  don't want to be here"  # the transcript's own words, not the model's copy
    assert note.summary == GOOD["summary"]
    assert note.warnings == ()
    assert progress[0] == (STAGE, 0.0, None)
    assert progress[-1] == (STAGE, 1.0, None)
    fractions = [p[1] for p in progress]
    assert fractions == sorted(fractions)
    assert len(progress) == 3


def test_unsupported_sentences_and_unquoted_flags_are_dropped(server: tuple[FakeChat, str]) -> None:
    state, url = server
    state.default = answer(
        subjective=section(
            ("The client reported a stressful week at work.", [1]),
            ("The client reported a history of trauma.", [1, 99]),  # segment 99 does not exist
            ("The client appeared euthymic.", []),  # cites nothing
        ),
        assessment=section(("Mood appeared normal.", [42])),
        plan=section(("Breathing exercise daily.", [5])),
        risk_flags=[
            {"kind": "suicidal_ideation", "severity": "low", "quote": "don't want to be here", "segment_idx": 3},
            {"kind": "self_harm", "severity": "denied", "quote": "I would never hurt myself", "segment_idx": 3},
            {"kind": "harm_to_others", "severity": "high", "quote": "next client", "segment_idx": 1},  # wrong line
            {"kind": "substance_use", "severity": "low", "quote": "drinks", "segment_idx": 77},
            {"kind": "gambling", "severity": "low", "quote": "work", "segment_idx": 1},
            {"kind": "self_harm", "severity": "extreme", "quote": "work", "segment_idx": 1},
        ],
        summary="A stressful week.",
    )
    note = generator(url).generate(SESSION, TEMPLATE)

    subjective, assessment, plan = note.sections
    assert [x.text for x in subjective.sentences] == ["The client reported a stressful week at work."]
    assert [x.evidence for x in assessment.sentences] == [(3,)]  # only the kept flag, cited; "Mood normal" went
    assert plan.evidence == (5,)
    assert [(f.kind, f.segment_idx) for f in note.risk_flags] == [("suicidal_ideation", 3)]
    assert note.warnings == (
        "3 statements removed: not supported by the transcript.",
        "Left out 2 risk flags of an unknown kind or severity.",
        "Left out 3 risk flags not quoting its transcript segment.",
    )
    for warning in note.warnings:
        assert "hurt" not in warning and "trauma" not in warning


def test_invalid_json_is_retried_then_succeeds(server: tuple[FakeChat, str]) -> None:
    state, url = server
    state.script.append(content_reply('{"subjective": {"sentences": ['))
    state.default = answer(**GOOD)
    note = generator(url).generate(SESSION, TEMPLATE)
    assert len(state.received) == 2
    assert note.sections[0].evidence == (1, 3)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("I'm sorry, here is the note: Subjective ...", "it is not JSON"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "plan"}), "section 'plan' is missing"),
        (json.dumps({**GOOD, "plan": section(("Text.", ["five"]))}), "a sentence of section 'plan' has no list"),
        (json.dumps({**GOOD, "risk_flags": "none"}), "the risk flags are missing or not a list"),
        (json.dumps({**GOOD, "summary": None}), "the summary is missing"),
        ("[]", "it is not a JSON object"),
    ],
)
def test_an_answer_that_is_never_a_valid_note_fails_readably(
    server: tuple[FakeChat, str], content: str, reason: str
) -> None:
    state, url = server
    state.default = content_reply(content)
    with pytest.raises(NotesError) as info:
        generator(url, max_retries=2).generate(SESSION, TEMPLATE)
    assert info.value.message.startswith("The note server returned an answer that is not a valid note (")
    assert reason in info.value.message
    assert len(state.received) == 3


def test_a_cut_off_answer_says_so(server: tuple[FakeChat, str]) -> None:
    state, url = server
    state.default = content_reply('{"subjective": {"sentences": [{"text": "The cl', finish="length")
    with pytest.raises(NotesError, match="cut off"):
        generator(url, max_retries=0).generate(SESSION, TEMPLATE)


# ---------------------------------------------------------------- retries, refusals, cancellation


@pytest.mark.parametrize(("header", "expected_delay"), [("0", 0.0), ("3600", 0.02)])
def test_429_waits_for_retry_after_capped_then_succeeds(
    server: tuple[FakeChat, str], caplog: pytest.LogCaptureFixture, header: str, expected_delay: float
) -> None:
    state, url = server
    state.script.append(status(429, {"Retry-After": header}))
    state.default = answer(**GOOD)
    caplog.set_level(logging.WARNING, logger="tbdesktop")
    note = generator(url, backoff_s=60, max_retry_after_s=0.02).generate(SESSION, TEMPLATE)
    assert len(state.received) == 2
    assert note.summary == GOOD["summary"]
    retries = [r for r in caplog.records if r.getMessage() == "note request will be retried"]
    assert [(r.__dict__["status"], r.__dict__["delay_s"]) for r in retries] == [(429, expected_delay)]


def test_server_errors_are_retried_then_reported(server: tuple[FakeChat, str]) -> None:
    state, url = server
    state.script.extend([status(500), status(502)])
    state.default = answer(**GOOD)
    assert generator(url).generate(SESSION, TEMPLATE).sections[2].evidence == (5,)
    assert len(state.received) == 3

    state.received.clear()
    state.default = status(503)
    with pytest.raises(NotesError, match=r"kept failing \(503\) after 2 tries"):
        generator(url, max_retries=1).generate(SESSION, TEMPLATE)
    assert len(state.received) == 2


@pytest.mark.parametrize("code", [401, 403])
def test_a_refused_key_fails_at_once(server: tuple[FakeChat, str], code: int) -> None:
    state, url = server
    state.default = status(code)
    with pytest.raises(NotesError, match=rf"refused the API key \({code}\)") as info:
        generator(url).generate(SESSION, TEMPLATE)
    assert len(state.received) == 1
    assert KEY not in info.value.message


def test_other_client_errors_fail_at_once_with_the_status(server: tuple[FakeChat, str]) -> None:
    state, url = server
    state.default = status(400)
    with pytest.raises(NotesError, match=r"rejected the request \(400\)"):
        generator(url).generate(SESSION, TEMPLATE)
    assert len(state.received) == 1


def test_a_timeout_is_retried_then_succeeds(server: tuple[FakeChat, str]) -> None:
    state, url = server
    state.script.append(state.stall(5.0))
    state.default = answer(**GOOD)
    note = generator(url, timeout_s=0.3).generate(SESSION, TEMPLATE)
    assert len(state.received) == 2
    assert note.summary == GOOD["summary"]


def test_timeouts_every_time_fail(server: tuple[FakeChat, str]) -> None:
    state, url = server
    state.default = state.stall(5.0)
    with pytest.raises(NotesError, match=r"did not answer within 0\.3 s"):
        generator(url, timeout_s=0.3, max_retries=1).generate(SESSION, TEMPLATE)
    assert len(state.received) == 2


def test_an_unreachable_server_fails_readably() -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(NotesError, match=f"unreachable at 127.0.0.1:{port}"):
        generator(f"http://127.0.0.1:{port}", max_retries=1).generate(SESSION, TEMPLATE)


@pytest.mark.parametrize(
    "reply",
    [
        content_reply(None, refusal="I can't help with that request."),
        content_reply("{}", finish="content_filter"),
    ],
)
def test_a_refusal_fails_without_retrying(server: tuple[FakeChat, str], reply: Callable[[Received], Reply]) -> None:
    state, url = server
    state.default = reply
    with pytest.raises(NotesError, match="refused to write a note"):
        generator(url).generate(SESSION, TEMPLATE)
    assert len(state.received) == 1


def test_cancel_between_retries(server: tuple[FakeChat, str]) -> None:
    state, url = server
    state.default = status(503)
    with pytest.raises(Cancelled):
        generator(url, backoff_s=60, max_backoff_s=60).generate(
            SESSION, TEMPLATE, should_cancel=lambda: state.answered >= 1
        )
    assert len(state.received) == 1


def test_cancel_during_a_request_does_not_wait_for_it(server: tuple[FakeChat, str]) -> None:
    state, url = server
    state.default = state.stall(30.0)
    with pytest.raises(Cancelled):
        generator(url, timeout_s=60).generate(SESSION, TEMPLATE, should_cancel=lambda: len(state.received) >= 1)
    assert state.answered == 0  # the stalled reply was never waited for


def test_cancelled_before_start_sends_nothing(server: tuple[FakeChat, str]) -> None:
    state, url = server
    with pytest.raises(Cancelled):
        generator(url).generate(SESSION, TEMPLATE, should_cancel=lambda: True)
    assert state.received == []


# ---------------------------------------------------------------- long transcripts


def long_session(n: int) -> list[TranscriptLine]:
    return [
        TranscriptLine(
            i,
            i * 10.0,
            i * 10.0 + 8.0,
            f"SPEAKER_0{i % 2}",
            "therapist" if i % 2 == 0 else "client",
            f"Line {i} of a long session about work, sleep, family and the week ahead, with some detail.",
        )
        for i in range(n)
    ]


def test_a_long_transcript_is_written_in_parts_and_joined(server: tuple[FakeChat, str]) -> None:
    state, url = server
    lines = long_session(80)
    progress: list[float] = []
    note = generator(url, context_tokens=2000).generate(lines, TEMPLATE, on_progress=lambda s, f, e: progress.append(f))

    chunks = [r for r in state.received if r.schema_name == "progress_note"]
    assert len(chunks) >= 3
    assert [r.schema_name for r in state.received] == ["progress_note"] * len(chunks) + ["note_summary"]
    sent = [[row[0] for row in r.transcript] for r in chunks]
    assert [i for part in sent for i in part] == list(range(80))  # every line once, in order
    for n, request in enumerate(chunks, start=1):
        assert f"part {n} of {len(chunks)}" in request.body["messages"][-1]["content"]

    subjective, assessment, plan = note.sections
    assert subjective.evidence == tuple(part[0] for part in sent)  # one sentence from each part, in order
    assert assessment.text == NOT_DISCUSSED
    # "Work and sleep from line a to b." is 8 words: the plan's 60-word limit keeps the first 7 parts.
    assert len(plan.sentences) == min(len(chunks), 7)
    assert note.summary == "The client talked about work, sleep and family."
    summary_request = state.received[-1].body["messages"][-1]["content"]
    assert "Subjective: The client talked about work and sleep in line 0." in summary_request
    assert "Assessment" not in summary_request
    assert progress[0] == 0.0 and progress[-1] == 1.0
    assert len(progress) == len(chunks) + 2
    assert progress == sorted(progress)


def test_joined_risk_flags_are_deduplicated_and_summary_falls_back(server: tuple[FakeChat, str]) -> None:
    state, url = server
    lines = long_session(60)

    def reply(request: Received) -> Reply:
        if request.schema_name == "note_summary":
            return completion("not json")
        first = request.transcript[0][0]
        flag = {"kind": "substance_use", "severity": "low", "quote": "SLEEP, family", "segment_idx": first}
        again = {**flag, "severity": "moderate"}
        body = json.loads(writes_note(request)[2])["choices"][0]["message"]["content"]
        return completion(json.dumps({**json.loads(body), "risk_flags": [flag, again]}))

    state.default = reply
    note = generator(url, context_tokens=2000, max_retries=0).generate(lines, TEMPLATE)
    chunks = [r for r in state.received if r.schema_name == "progress_note"]
    assert len(chunks) >= 2
    assert [(f.segment_idx, f.severity, f.quote) for f in note.risk_flags] == [
        (r.transcript[0][0], "moderate", "sleep, family") for r in chunks  # the higher of the two
    ]
    assert note.summary == "Work and sleep from line 0."
    assert "The summary covers only the first part of the session." in note.warnings


def test_a_context_too_small_for_the_template_fails_before_sending(server: tuple[FakeChat, str]) -> None:
    state, url = server
    with pytest.raises(NotesError, match="too small"):
        generator(url, context_tokens=600).generate(SESSION, TEMPLATE)
    assert state.received == []


def test_an_empty_transcript_sends_nothing(server: tuple[FakeChat, str]) -> None:
    state, url = server
    note = generator(url).generate([], TEMPLATE)
    assert state.received == []
    assert all(s.text == NOT_DISCUSSED for s in note.sections)


def test_no_transcript_note_text_or_key_is_logged(
    server: tuple[FakeChat, str], caplog: pytest.LogCaptureFixture
) -> None:
    state, url = server
    state.script.extend([status(500), content_reply("not json")])
    state.default = answer(**GOOD)
    caplog.set_level(logging.DEBUG, logger="tbdesktop")
    generator(url).generate(SESSION, TEMPLATE)
    ours = [r for r in caplog.records if r.name.startswith("tbdesktop")]
    assert ours
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in ours)
    for secret in (KEY, "stressful", "breathing", "want to be here", "interrupt"):
        assert secret not in logged


# ---------------------------------------------------------------- helpers


def test_addresses_name_the_same_endpoint() -> None:
    for url in ("http://h:8000", "http://h:8000/", "http://h:8000/v1", "http://h:8000/v1/chat/completions"):
        assert api_base(url) == "http://h:8000/v1"
    assert api_base("https://h/api/openai/v1/") == "https://h/api/openai/v1"
    assert api_base("http://h/v1/audio/transcriptions") == "http://h/v1"
    for bad in ("ftp://h", "h:8000", "", "http://h:port"):
        with pytest.raises(NotesError):
            api_base(bad)


def test_retry_after_forms() -> None:
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


def test_quotes_are_found_verbatim_or_not_at_all() -> None:
    text = "Sometimes I feel like I  don’t want to be here anymore."
    assert find_quote('"I don\'t want to be HERE."', text) == "I  don’t want to be here"
    assert find_quote("want to be there", text) is None
    assert find_quote("time", text) is None  # inside "Sometimes": not a quote
    assert find_quote(" ... ", text) is None


def test_chunks_are_even_and_respect_the_budget() -> None:
    rendered = ["x" * 396] * 10  # 100 tokens each
    assert [len(r) for r in plan_chunks(rendered, 1000)] == [10]
    chunks = plan_chunks(rendered, 450)
    assert [len(r) for r in chunks] == [3, 4, 3]
    assert plan_chunks(["x" * 4000], 100) == [range(1)]
    assert plan_chunks([], 100) == []


def test_summary_is_trimmed_at_a_sentence() -> None:
    first = "The client described a stressful week. " * 4
    trimmed = trim_summary(first + "x" * 200 + ".")
    assert trimmed == first.strip()
    long_sentence = "word " * 100
    assert len(trim_summary(long_sentence)) <= 300
    assert trim_summary(long_sentence).endswith("…")
    assert trim_summary("  Short.  ") == "Short."
