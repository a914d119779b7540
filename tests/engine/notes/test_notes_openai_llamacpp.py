"""The ``openai`` notes backend against a real llama.cpp server (OpenAI-compatible API) running SmolLM2-135M.

The model is far too small to write a good note, so these tests check what the backend promises whatever the
model writes: a note of the template's sections in which every kept sentence cites segments that exist, and a
clear error for a wrong key, a wrong address, a cancel and a server that goes away.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openai
import pytest
from llm_support import LlamaServer, wait_until

from tbdesktop.engine.errors import Cancelled
from tbdesktop.engine.notes import STAGE, GeneratedNote, NotesError, NoteTemplateSpec, TranscriptLine
from tbdesktop.engine.notes.factory import make_generator
from tbdesktop.engine.notes.openai_backend import OpenAINoteGenerator

MODEL = "smollm2-135m-instruct"  # not the server's own name for it: llama.cpp serves its one model whatever is asked
CONTEXT = 4096
CANCEL_DEADLINE_S = 1.0  # a cancel is seen within POLL_S (0.1 s); the rest is headroom for a loaded machine
BUSY_TIMEOUT_S = 60.0

SCRIPT = [
    ("therapist", "How did the week go?"),
    ("client", "I slept badly because work was stressful."),
    ("therapist", "This week, try a walk every evening."),
]
LINES = [
    TranscriptLine(i, i * 8.0, i * 8.0 + 7.0, "SPEAKER_00" if role == "therapist" else "SPEAKER_01", role, text)
    for i, (role, text) in enumerate(SCRIPT)
]
# One short section keeps the answer, and so the test, short.
TEMPLATE = NoteTemplateSpec.from_content(
    "Brief",
    {
        "sections": [
            {
                "key": "focus",
                "title": "Focus",
                "instructions": "One short sentence about what the client reported.",
                "max_words": 15,
            }
        ]
    },
)


def generator(server: LlamaServer, **kwargs: Any) -> OpenAINoteGenerator:
    kwargs.setdefault("timeout_s", 120)
    kwargs.setdefault("context_tokens", CONTEXT)
    kwargs.setdefault("backoff_s", 0.01)
    return OpenAINoteGenerator(
        kwargs.pop("base_url", server.url), MODEL, kwargs.pop("api_key", server.api_key), **kwargs
    )


@dataclass
class Run:
    """``generate`` on a thread of its own, so the test can act while the request is in flight."""

    notes: OpenAINoteGenerator
    cancel: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    note: GeneratedNote | None = None
    error: BaseException | None = None

    def start(self) -> Run:
        threading.Thread(target=self._work, name="generate", daemon=True).start()
        return self

    def _work(self) -> None:
        try:
            self.note = self.notes.generate(
                LINES, TEMPLATE, on_progress=lambda *_: self.started.set(), should_cancel=self.cancel.is_set
            )
        except BaseException as exc:  # handed to the test's thread
            self.error = exc
        finally:
            self.done.set()


def in_flight(server: LlamaServer, notes: OpenAINoteGenerator) -> Run:
    """Start a note and return once the server is working on it."""
    run = Run(notes).start()
    assert run.started.wait(BUSY_TIMEOUT_S), "generate never reported progress"
    wait_until(lambda: server.busy() or run.done.is_set(), BUSY_TIMEOUT_S, "the server to take the request")
    assert not run.done.is_set(), f"the note finished before the test could act: {run.error!r}"
    return run


# ---------------------------------------------------------------- what the server does with the schema


def test_llama_cpp_constrains_the_answer_to_the_json_schema(llama_server: LlamaServer) -> None:
    """The strict ``json_schema`` response format is turned into a grammar: even asked for a poem, the model can
    only write JSON of the schema (here an enum)."""
    client = openai.OpenAI(base_url=f"{llama_server.url}/v1", api_key=llama_server.api_key, max_retries=0)
    schema = {
        "type": "object",
        "properties": {"mood": {"type": "string", "enum": ["calm", "tense"]}},
        "required": ["mood"],
        "additionalProperties": False,
    }
    with client:
        completion = client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Write a long poem about the sea."}],
            response_format={"type": "json_schema", "json_schema": {"name": "mood", "strict": True, "schema": schema}},
            max_tokens=200,  # the grammar bounds the answer (its whitespace included) well below this
        )
    content = completion.choices[0].message.content or ""
    assert completion.choices[0].finish_reason == "stop", content
    assert json.loads(content) in ({"mood": "calm"}, {"mood": "tense"})


# ---------------------------------------------------------------- a note


def test_a_note_cites_only_segments_that_exist(llama_server: LlamaServer) -> None:
    # the model may ramble until the server's answer cap: that answer is cut off and asked for again
    notes = generator(llama_server, max_retries=3)
    progress: list[tuple[str, float, float | None]] = []
    note = notes.generate(LINES, TEMPLATE, on_progress=lambda *a: progress.append(a))

    assert note.generator == f"openai:{MODEL}"
    assert [(s.key, s.title) for s in note.sections] == [("focus", "Focus")]
    known = {line.idx for line in LINES}
    for section in note.sections:
        for sentence in section.sentences:
            assert sentence.text.strip()
            assert sentence.evidence, f"a kept sentence cites nothing: {sentence}"
            assert set(sentence.evidence) <= known, f"a kept sentence cites a segment that does not exist: {sentence}"
        assert set(section.evidence) <= known
    for flag in note.risk_flags:
        assert flag.segment_idx in known
        assert flag.quote.lower() in LINES[flag.segment_idx].text.lower()
    assert isinstance(note.summary, str)
    assert note.removed_statements >= 0
    assert progress[0] == (STAGE, 0.0, None)
    assert progress[-1] == (STAGE, 1.0, None)
    assert [p[1] for p in progress] == sorted(p[1] for p in progress)


def test_the_model_name_is_not_checked_by_llama_cpp(llama_server: LlamaServer) -> None:
    """A misspelt model name cannot be caught against llama.cpp: it lists its one model under the file's name and
    answers any name (the note test above asks for another)."""
    status, models = llama_server.get("/v1/models")
    assert status == 200
    assert [m["id"] for m in models["data"]] != [MODEL]
    assert models["data"][0]["id"].endswith(".gguf")


# ---------------------------------------------------------------- errors


def test_a_wrong_api_key_is_refused_clearly(llama_server: LlamaServer) -> None:
    with pytest.raises(NotesError, match=r"refused the API key \(401\)") as info:
        generator(llama_server, api_key="sk-not-the-key").generate(LINES, TEMPLATE)
    assert "sk-not-the-key" not in info.value.message
    with pytest.raises(NotesError, match=r"requires an API key \(401\)"):
        generator(llama_server, api_key=None).generate(LINES, TEMPLATE)


def test_a_wrong_address_names_the_missing_endpoint(llama_server: LlamaServer) -> None:
    notes = generator(llama_server, base_url=f"{llama_server.url}/openai/v1")
    with pytest.raises(NotesError, match=rf"at {llama_server.host} has no chat endpoint or no model '{MODEL}' \(404\)"):
        notes.generate(LINES, TEMPLATE)


def test_the_settings_factory_builds_a_generator_for_the_server(llama_server: LlamaServer) -> None:
    notes = make_generator(
        {"backend": "openai", "base_url": llama_server.url, "model": MODEL, "api_key": "sk-not-the-key"}
    )
    assert notes.name == f"openai:{MODEL}"
    with pytest.raises(NotesError, match=r"refused the API key \(401\)"):
        notes.generate(LINES, TEMPLATE)


def test_a_cancel_mid_request_stops_at_once(new_llama_server: Callable[..., LlamaServer]) -> None:
    server = new_llama_server()  # its own: the abandoned request keeps it busy until it is stopped
    run = in_flight(server, generator(server, max_retries=0))
    run.cancel.set()
    assert run.done.wait(CANCEL_DEADLINE_S), f"generate did not stop within {CANCEL_DEADLINE_S:g} s of the cancel"
    assert isinstance(run.error, Cancelled), repr(run.error)
    assert run.note is None


def test_a_server_that_goes_away_mid_request_fails_clearly(new_llama_server: Callable[..., LlamaServer]) -> None:
    server = new_llama_server()
    run = in_flight(server, generator(server, max_retries=1))
    server.kill()
    assert run.done.wait(30), "generate did not return after the server went away"
    assert isinstance(run.error, NotesError), repr(run.error)
    assert run.error.message == f"The note server is unreachable at {server.host}."
