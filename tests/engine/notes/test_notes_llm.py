"""Notes written by a real GGUF model through the real llama.cpp runtime (SmolLM2-135M-Instruct: too small to
write a good note, which makes it a good test of the checks around it)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from llm_support import MODEL_FILE, note_model_file

from tbdesktop.engine.errors import Cancelled
from tbdesktop.engine.notes import NOT_DISCUSSED, NoteTemplateSpec, TranscriptLine
from tbdesktop.engine.notes.evidence import check_support
from tbdesktop.engine.notes.factory import make_generator
from tbdesktop.engine.notes.llm import LlamaNoteGenerator, RuntimeOptions
from tbdesktop.engine.notes.llm import runtime as llm_runtime
from tbdesktop.engine.notes.llm.generator import salvage
from tbdesktop.engine.notes.llm.runtime import Answer, LlamaRuntime

SCRIPT = [
    ("therapist", "How have you been since last week?"),
    ("client", "Not great. I have not been sleeping, maybe four hours a night."),
    ("client", "Sometimes I think everyone would be better off if I was not here."),
    ("therapist", "Have you had thoughts of ending your life?"),
    ("client", "I have thought about it, but I do not have a plan."),
    ("therapist", "Thank you for telling me. Let's write a safety plan together, and you can call the crisis line."),
    ("client", "Okay, I can do that."),
    ("therapist", "I will see you again next Thursday."),
]
LINES = [
    TranscriptLine(i, i * 8.0, i * 8.0 + 7.0, "SPEAKER_00" if role == "therapist" else "SPEAKER_01", role, text)
    for i, (role, text) in enumerate(SCRIPT)
]
TEMPLATE = NoteTemplateSpec.from_content(
    "SOAP",
    {
        "sections": [
            {"key": "subjective", "title": "Subjective", "instructions": "What the client reported.", "max_words": 60},
            {"key": "assessment", "title": "Assessment", "instructions": "The clinical picture.", "max_words": 60},
            {"key": "plan", "title": "Plan", "instructions": "Next steps agreed.", "max_words": 40},
        ]
    },
)
RISK_CONTENT = ("Suicidal ideation", "Self-harm", "Safety step")  # built by code from verbatim quotes
BRIEF = NoteTemplateSpec.from_content(
    "Brief",
    {"sections": [{"key": "subjective", "title": "Subjective", "instructions": "What was said.", "max_words": 40}]},
)


@pytest.fixture(scope="module")
def runtime() -> LlamaRuntime:
    return LlamaRuntime(RuntimeOptions(note_model_file(), threads=1, context_tokens=4096))


class Recorder:
    """The real runtime, with every raw answer kept (and, when asked, one answer's content replaced)."""

    def __init__(self, inner: LlamaRuntime, replace: dict[int, str] | None = None) -> None:
        self.inner = inner
        self.options = inner.options
        self.answers: list[Answer] = []
        self.replace = replace or {}

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], **kwargs: Any) -> Answer:
        answer = self.inner.complete(messages, schema, **kwargs)
        n = len(self.answers)
        if n in self.replace:
            answer = Answer(self.replace[n], False, answer.prompt_tokens, answer.completion_tokens, 0, 0.1, 0.1)
        self.answers.append(answer)
        return answer


def test_a_real_model_writes_a_schema_valid_note_whose_every_statement_is_supported(runtime: LlamaRuntime) -> None:
    spy = Recorder(runtime)
    progress: list[tuple[str, float, float | None]] = []
    note = LlamaNoteGenerator(runtime.options, runtime=spy).generate(  # type: ignore[arg-type]
        LINES, TEMPLATE, on_progress=lambda *a: progress.append(a)
    )
    assert note.generator == f"llm:{MODEL_FILE}"
    # one request per section, one risk pass, one summary; every answer parsed (the schema is a grammar)
    assert len(spy.answers) == len(TEMPLATE.sections) + 2
    raw = [salvage(a.content) for a in spy.answers]
    written = [s for r in raw[: len(TEMPLATE.sections)] for s in r]
    texts = {line.idx: line.text for line in LINES}
    expected_removed = 0
    for statement in written:
        cited = [texts[i] for i in statement["evidence"] if i in texts]
        if len(cited) != len(statement["evidence"]) or not check_support(statement["text"], cited).ok:
            expected_removed += 1
    assert note.removed_statements == expected_removed
    if expected_removed:
        assert f"{expected_removed} statement" in note.warnings[0]
    for section in note.sections:
        for sentence in section.sentences:
            if sentence.text.startswith(RISK_CONTENT):  # quotes, cited: a flag's line or a safety step's lines
                assert sentence.evidence and all(i in texts for i in sentence.evidence)
                if sentence.text.startswith("Suicidal ideation"):
                    assert sentence.evidence[0] in {f.segment_idx for f in note.risk_flags}
                continue
            cited = [texts[i] for i in sentence.evidence]
            assert cited and check_support(sentence.text, cited).ok, sentence
    # the rule lexicon is the floor: the passive ideation is flagged whatever the model said
    assert any(f.kind == "suicidal_ideation" and f.segment_idx in (2, 4) for f in note.risk_flags)
    assert all(f.source in ("rules", "model", "rules+model") for f in note.risk_flags)
    assessment = note.sections[1]
    assert any(s.text.startswith("Suicidal ideation") for s in assessment.sentences)
    assert any(s.text.startswith("Safety step") and s.evidence[0] == 5 for s in assessment.sentences)
    assert note.summary
    fractions = [p[1] for p in progress]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert any(p[2] is not None and p[2] > 0 for p in progress[1:-1])  # an ETA from measured tokens/s


def test_invented_statements_are_dropped_and_counted(runtime: LlamaRuntime) -> None:
    invented = json.dumps(
        {
            "statements": [
                {"text": "The client reported not sleeping, maybe four hours a night.", "evidence": [1]},
                {"text": "The client has nightmares about a car accident in 2019.", "evidence": [1]},
                {"text": "The client reported a plan to overdose on pills.", "evidence": [4]},
                {"text": "The client reported sleeping well.", "evidence": [99]},
            ]
        }
    )
    spy = Recorder(runtime, replace={0: invented})
    note = LlamaNoteGenerator(runtime.options, runtime=spy).generate(LINES, BRIEF)  # type: ignore[arg-type]
    written = [s.text for s in note.sections[0].sentences if not s.text.startswith(RISK_CONTENT)]
    assert written == ["The client reported not sleeping, maybe four hours a night."]
    assert note.removed_statements >= 3
    assert note.warnings[0].startswith(f"{note.removed_statements} statements removed")


def test_a_model_flag_is_kept_only_with_its_quote_in_a_client_line(runtime: LlamaRuntime) -> None:
    flags = json.dumps(
        {
            "flags": [
                {
                    "kind": "suicidal_ideation",
                    "severity": "moderate",
                    "quote": "better off if I was not here",
                    "line": 2,
                },
                {"kind": "substance_use", "severity": "high", "quote": "I drink every night", "line": 1},
                {"kind": "suicidal_ideation", "severity": "high", "quote": "thoughts of ending your life", "line": 3},
            ]
        }
    )
    spy = Recorder(runtime, replace={len(BRIEF.sections): flags})
    note = LlamaNoteGenerator(runtime.options, runtime=spy).generate(LINES, BRIEF)  # type: ignore[arg-type]
    at_line_2 = [f for f in note.risk_flags if f.segment_idx == 2]
    assert [(f.kind, f.severity) for f in at_line_2] == [("suicidal_ideation", "moderate")]
    assert at_line_2[0].source in ("model", "rules+model")
    assert "better off if I was not here" in at_line_2[0].quote  # the rule's sentence when both found it
    assert not any(f.kind == "substance_use" for f in note.risk_flags)  # not said
    assert not any(f.segment_idx == 3 for f in note.risk_flags)  # the therapist's question
    assert any("2 model risk flags removed" in w for w in note.warnings)


def test_cancel_stops_generation_within_a_token(runtime: LlamaRuntime) -> None:
    stop = threading.Event()
    tokens_after: list[int] = []

    def on_progress(stage: str, fraction: float, eta: float | None) -> None:
        if fraction > 0.0:
            stop.set()  # cancel as soon as the first tokens arrive

    def should_cancel() -> bool:
        if stop.is_set():
            tokens_after.append(1)
        return stop.is_set()

    with pytest.raises(Cancelled):
        LlamaNoteGenerator(runtime.options, runtime=runtime).generate(
            LINES, TEMPLATE, on_progress=on_progress, should_cancel=should_cancel
        )
    assert stop.is_set()
    assert len(tokens_after) <= 2  # seen at the next token; llama.cpp stopped the generation there
    again = runtime.complete([{"role": "user", "content": "Say yes."}], {"type": "string"}, max_tokens=4)
    assert again.content  # the runtime is usable after a cancel


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "was not found"),
        (b"not a model at all", "is not a GGUF model"),
        (b"GGUF" + b"\0" * 64, "could not be loaded"),
    ],
)
def test_a_missing_or_damaged_model_falls_back_to_the_draft_saying_why(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "clinic-notes.gguf"
    if content is not None:
        path.write_bytes(content)
    generator = make_generator({"backend": "llm", "model_path": str(path), "threads": 1, "context_tokens": 2048})
    note = generator.generate(LINES, TEMPLATE)
    assert note.generator == "local"
    assert message in note.warnings[0] and "draft from transcript quotes" in note.warnings[0]
    assert any(s.sentences for s in note.sections)  # the draft itself is there
    assert note.sections[0].text != NOT_DISCUSSED


def test_the_process_keeps_one_model_loaded_while_its_options_stay_the_same() -> None:
    options = RuntimeOptions(note_model_file(), threads=1, context_tokens=2048)
    try:
        first = llm_runtime.load(options)
        assert llm_runtime.load(options) is first
        other = llm_runtime.load(RuntimeOptions(note_model_file(), threads=1, context_tokens=1024))
        assert other is not first
    finally:
        llm_runtime.release()
