"""Progress notes written by a GGUF model on the workstation, one request per section, every statement checked.

Flow: the transcript as numbered lines (``[12] (Client) 03:21: …``). When it fits the model's context, each
section is asked for on the whole transcript (the same prefix every time, so llama.cpp reuses its cache);
when it does not, each part is first reduced to key points that keep their line numbers, and the sections are
written from those points. A risk pass asks for flags with verbatim quotes; the rule lexicon always runs as
well, and the two are merged. The card summary is written from the checked note.

Nothing is trusted: a statement is kept only if it cites lines that exist and `evidence.check_support` finds
it supported by them; a model flag only if its quote is in the line it cites and that line is not the
therapist's. What was removed is counted and stored with the note.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tbdesktop.engine.notes.evidence import check_support
from tbdesktop.engine.notes.llm import prompts
from tbdesktop.engine.notes.llm.runtime import Answer, LlamaRuntime, RuntimeOptions, load
from tbdesktop.engine.notes.openai_prompt import (
    Dropped,
    estimate_tokens,
    find_quote,
    plan_chunks,
    render_line,
    trim_summary,
    trim_words,
)
from tbdesktop.engine.notes.risk import detect_risks
from tbdesktop.engine.notes.risk_merge import merge_flags, risk_content
from tbdesktop.engine.notes.summary import summarise
from tbdesktop.engine.notes.types import (
    RISK_KINDS,
    RISK_SEVERITIES,
    STAGE,
    GeneratedNote,
    NoteSection,
    NoteSentence,
    NotesError,
    NoteTemplateSpec,
    RiskFlagResult,
    TemplateSection,
    TranscriptLine,
)
from tbdesktop.engine.progress import check_cancel, reporter
from tbdesktop.engine.types import CancelCheck, ProgressCallback

log = logging.getLogger(__name__)
_report = reporter(STAGE)

CONTEXT_MARGIN = 0.85  # the character estimate of tokens is rough: leave room
ANSWER_TOKENS_MIN = 200
ANSWER_TOKENS_MAX = 700
DEFAULT_SECTION_WORDS = 150  # a section without a word limit: about five short statements
POINTS_ANSWER_TOKENS = 900
RISK_ANSWER_TOKENS = 350
SUMMARY_ANSWER_TOKENS = 200
MIN_TRANSCRIPT_TOKENS = 256


@dataclass
class _Counts:
    removed: int = 0  # statements written but not supported by the cited lines (shown with the note)
    uncited: int = 0  # statements citing no existing line (counted in removed too)
    flags_unquoted: int = 0
    cut_off: list[str] = field(default_factory=list)

    def warnings(self) -> tuple[str, ...]:
        out = []
        if self.removed:
            noun = "statement" if self.removed == 1 else "statements"
            out.append(f"{self.removed} {noun} removed: not supported by the transcript.")
        if self.flags_unquoted:
            noun = "risk flag" if self.flags_unquoted == 1 else "risk flags"
            out.append(f"{self.flags_unquoted} model {noun} removed: the quote is not in the line it cites.")
        for title in self.cut_off:
            out.append(f"The model's answer for {title} was cut off; that section may be incomplete.")
        return tuple(out)


class _Pace:
    """Measured prompt and generation speeds, for the ETA of the requests still to come (and totals)."""

    def __init__(self) -> None:
        self.prompt_rate = 0.0
        self.gen_rate = 0.0
        self.prompt_tokens = 0
        self.cached_tokens = 0
        self.completion_tokens = 0
        self.prompt_seconds = 0.0
        self.completion_seconds = 0.0

    def add(self, answer: Answer) -> None:
        self.prompt_tokens += answer.prompt_tokens
        self.cached_tokens += answer.cached_tokens
        self.completion_tokens += answer.completion_tokens
        self.prompt_seconds += answer.prompt_seconds
        self.completion_seconds += answer.completion_seconds
        if answer.prompt_seconds > 0 and answer.prompt_tokens:
            self.prompt_rate = answer.prompt_tokens / answer.prompt_seconds
        if answer.completion_seconds > 0 and answer.completion_tokens:
            self.gen_rate = answer.completion_tokens / answer.completion_seconds

    def eta(self, prompt_tokens: int, answer_tokens: int) -> float | None:
        if not self.gen_rate:
            return None
        prompt = prompt_tokens / self.prompt_rate if self.prompt_rate else 0.0
        return prompt + answer_tokens / self.gen_rate


class LlamaNoteGenerator:
    """Notes from a GGUF model run in this process (see the module's flow); ``name`` is ``llm:<file name>``."""

    def __init__(self, options: RuntimeOptions, *, runtime: LlamaRuntime | None = None) -> None:
        self.options = options
        self.name = f"llm:{options.model_path.name}"
        self._runtime = runtime
        self.last_run: dict[str, float] = {}  # the last note's requests, tokens and seconds (no text)

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
        spoken = [line for line in lines if line.text.strip()]
        rule_flags = detect_risks(spoken)
        if not spoken:
            empty = tuple(NoteSection(s.key, s.title) for s in template.sections)
            _report(on_progress, 1.0, 0.0)
            return GeneratedNote(self.name, empty, summarise(spoken, empty, ()), (), ("The transcript is empty.",))
        runtime = self._runtime or load(self.options)
        run = _Run(runtime, spoken, template, on_progress, should_cancel)
        note = run.write(rule_flags, self.name)
        pace = run.pace
        self.last_run = {
            "requests": run.done,
            "parts": run.parts,
            "prompt_tokens": pace.prompt_tokens,
            "cached_tokens": pace.cached_tokens,
            "completion_tokens": pace.completion_tokens,
            "prompt_seconds": round(pace.prompt_seconds, 3),
            "completion_seconds": round(pace.completion_seconds, 3),
            "seconds": round(time.perf_counter() - started, 3),
            "load_seconds": round(float(getattr(runtime, "load_seconds", 0.0)), 3),
        }
        log.info(
            "note written by model",
            extra={
                "lines": len(spoken),
                "requests": run.done,
                "parts": run.parts,
                "removed": run.counts.removed,
                "risk_flags": len(note.risk_flags),
                "tokens_per_s": round(run.pace.gen_rate, 1),
                "seconds": round(time.perf_counter() - started, 2),
            },
        )
        return note


class _Run:
    """One note: the requests, their checks and the progress between them."""

    def __init__(
        self,
        runtime: LlamaRuntime,
        lines: Sequence[TranscriptLine],
        template: NoteTemplateSpec,
        on_progress: ProgressCallback | None,
        should_cancel: CancelCheck | None,
    ) -> None:
        self.runtime = runtime
        self.lines = list(lines)
        self.by_idx = {line.idx: line for line in self.lines}
        self.template = template
        self.on_progress = on_progress
        self.should_cancel = should_cancel
        self.counts = _Counts()
        self.pace = _Pace()
        self.done = 0
        self.rendered = [render_line(line) for line in self.lines]
        budget = self._budget()
        self.chunks = plan_chunks(self.rendered, budget)
        self.parts = len(self.chunks)
        # requests: per part points + risk (or one risk pass), one per section, one summary
        self.total = (2 * self.parts if self.parts > 1 else 1) + len(template.sections) + 1

    def write(self, rule_flags: Sequence[RiskFlagResult], name: str) -> GeneratedNote:
        model_flags: list[RiskFlagResult] = []
        if self.parts > 1:
            points: list[str] = []
            for n, chunk in enumerate(self.chunks, start=1):
                block = prompts.transcript_block([self.rendered[i] for i in chunk])
                points += self._points(block, n)
                model_flags += self._risk(block)
            source = prompts.transcript_block(points, points=True)
        else:
            source = prompts.transcript_block(self.rendered)
        sections = [self._section(source, section) for section in self.template.sections]
        if self.parts == 1:
            model_flags += self._risk(source)
        flags = merge_flags(rule_flags, model_flags)
        sections = risk_content(sections, self.template, flags, self.lines)
        summary = self._summary(sections, flags)
        _report(self.on_progress, 1.0, 0.0)
        return GeneratedNote(
            name, tuple(sections), summary, flags, self.counts.warnings(), removed_statements=self.counts.removed
        )

    # -- requests ------------------------------------------------------------------------------------------

    def _ask(self, content: str, schema: dict[str, Any], max_tokens: int) -> Any:
        check_cancel(self.should_cancel)
        messages = [{"role": "system", "content": prompts.SYSTEM}, {"role": "user", "content": content}]
        prompt_tokens = estimate_tokens(prompts.SYSTEM + content)
        base = self.done / self.total

        def on_token(tokens: int) -> None:
            if tokens % 16 == 0:
                fraction = base + min(tokens / max_tokens, 0.95) / self.total
                _report(self.on_progress, min(fraction, 0.99), self._eta(prompt_tokens, max_tokens - tokens))

        answer = self.runtime.complete(
            messages, schema, max_tokens=max_tokens, should_cancel=self.should_cancel, on_token=on_token
        )
        self.pace.add(answer)
        self.done += 1
        _report(self.on_progress, min(self.done / self.total, 0.99), self._eta(prompt_tokens // 4, max_tokens // 2))
        try:
            return json.loads(answer.content), answer.truncated
        except ValueError:
            # cut off at max_tokens: keep the statements that were complete
            return {"statements": salvage(answer.content)}, answer.truncated

    def _eta(self, prompt_tokens: int, answer_tokens: int) -> float | None:
        """This request's rest plus the requests to come, each at about half its answer budget."""
        current = self.pace.eta(0, max(answer_tokens, 0))
        per_request = self.pace.eta(prompt_tokens // 4, ANSWER_TOKENS_MIN)
        if current is None or per_request is None:
            return None
        return current + per_request * max(self.total - self.done - 1, 0)

    def _section(self, source: str, section: TemplateSection) -> NoteSection:
        limit = section.max_words or DEFAULT_SECTION_WORDS
        max_tokens = max(ANSWER_TOKENS_MIN, min(ANSWER_TOKENS_MAX, 120 + 2 * limit))
        data, truncated = self._ask(prompts.section_message(source, section), prompts.bullets_schema(), max_tokens)
        if truncated:
            self.counts.cut_off.append(section.title)
        kept = self._checked(data.get("statements"))
        return NoteSection(section.key, section.title, trim_words(kept, section, Dropped()))

    def _points(self, block: str, part: int) -> list[str]:
        data, _ = self._ask(
            prompts.points_message(block, part, self.parts),
            prompts.bullets_schema(prompts.MAX_POINTS),
            POINTS_ANSWER_TOKENS,
        )
        points = self._checked((data or {}).get("statements"), count=False)
        return [f"[{', '.join(str(i) for i in p.evidence)}] {p.text}" for p in points]

    def _risk(self, block: str) -> list[RiskFlagResult]:
        data, _ = self._ask(prompts.risk_message(block), prompts.risk_schema(), RISK_ANSWER_TOKENS)
        flags: list[RiskFlagResult] = []
        for item in (data or {}).get("flags") or []:
            at = item.get("line") if isinstance(item, dict) else None
            line = self.by_idx.get(at) if isinstance(at, int) else None
            kind, severity = (item.get("kind"), item.get("severity")) if isinstance(item, dict) else (None, None)
            if kind not in RISK_KINDS or severity not in RISK_SEVERITIES:
                continue
            quote = find_quote(str(item.get("quote") or ""), line.text) if line is not None else None
            if line is None or quote is None or line.role == "therapist":
                self.counts.flags_unquoted += 1
                continue
            flags.append(RiskFlagResult(str(kind), str(severity), quote, line.idx, source="model"))
        return flags

    def _summary(self, sections: Sequence[NoteSection], flags: Sequence[RiskFlagResult]) -> str:
        written = [
            f"[{', '.join(str(i) for i in s.evidence)}] {s.text}" for section in sections for s in section.sentences
        ]
        fallback = summarise(self.lines, sections, flags)
        if not written:
            return fallback
        message = prompts.summary_message("\n".join(written))
        data, _ = self._ask(message, prompts.bullets_schema(2), SUMMARY_ANSWER_TOKENS)
        kept = self._checked((data or {}).get("statements"), count=False)
        text = trim_summary(" ".join(s.text.strip() for s in kept))
        return text or fallback

    # -- checks --------------------------------------------------------------------------------------------

    def _checked(self, items: Any, *, count: bool = True) -> list[NoteSentence]:
        """Statements citing existing lines that support them; the rest counted as removed."""
        kept: list[NoteSentence] = []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            text = " ".join(str(item.get("text") or "").split())
            evidence = tuple(dict.fromkeys(i for i in item.get("evidence") or [] if isinstance(i, int)))
            if not text:
                continue
            cited = [self.by_idx[i].text for i in evidence if i in self.by_idx]
            if not evidence or len(cited) != len(evidence):
                self.counts.uncited += count
                self.counts.removed += count
                continue
            if not check_support(text, cited).ok:
                self.counts.removed += count
                continue
            kept.append(NoteSentence(_sentence(text), evidence))
        return kept

    def _budget(self) -> int:
        context = int(self.runtime.options.context_tokens * CONTEXT_MARGIN)
        longest = max(
            estimate_tokens(prompts.section_message("", s))
            + max(ANSWER_TOKENS_MIN, 120 + 2 * (s.max_words or DEFAULT_SECTION_WORDS))
            for s in self.template.sections
        )
        overhead = estimate_tokens(prompts.SYSTEM) + max(longest, estimate_tokens(prompts.risk_message("")) + 500)
        budget = context - overhead - 50
        if budget < MIN_TRANSCRIPT_TOKENS:
            raise NotesError(
                f"The note model's context of {self.runtime.options.context_tokens} tokens is too small for this "
                "template; set a larger context."
            )
        return budget


_STATEMENT = re.compile(r'\{\s*"text"\s*:\s*("(?:[^"\\]|\\.)*")\s*,\s*"evidence"\s*:\s*\[([\d,\s]*)\]\s*\}')


def salvage(content: str) -> list[dict[str, Any]]:
    """The complete ``{"text", "evidence"}`` statements of an answer, even one cut off before its end."""
    try:
        data = json.loads(content)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("statements"), list):
        return [s for s in data["statements"] if isinstance(s, dict)]
    found = []
    for match in _STATEMENT.finditer(content):
        try:
            text = json.loads(match.group(1))
        except ValueError:
            continue
        found.append({"text": text, "evidence": [int(i) for i in re.findall(r"\d+", match.group(2))]})
    return found


def _sentence(text: str) -> str:
    text = text[0].upper() + text[1:] if text else text
    return text if text[-1:] in '.!?"”' else f"{text}."
