"""Practice figures as tables of text cells: what the Insights page's table view shows, its CSV export writes and
`tbdesktop stats` prints."""

from __future__ import annotations

from dataclasses import dataclass

from tbdesktop.services.dto import JsonMixin
from tbdesktop.services.stats import PracticeStats, StatsTotals

KIND_LABELS = {
    "suicidal_ideation": "Suicidal ideation",
    "self_harm": "Self-harm",
    "harm_to_others": "Harm to others",
    "abuse_neglect": "Abuse or neglect",
    "substance_use": "Substance use",
}


@dataclass(frozen=True)
class FigureTable(JsonMixin):
    key: str
    title: str
    headers: list[str]
    rows: list[list[str]]


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0").rstrip(".")


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def total_lines(t: StatsTotals) -> list[tuple[str, str]]:
    """The totals as (label, value) pairs, in the order they are shown."""
    return [
        ("Sessions", str(t.sessions)),
        ("Hours", _num(t.hours)),
        ("Notes signed", str(t.notes_signed)),
        ("Notes in draft", str(t.notes_draft)),
        ("Sessions without a note", str(t.no_note)),
        ("Median days to sign", _num(t.median_days_to_sign) or "–"),
        ("Risk flags raised", str(t.risk_flags)),
        ("Recordings processed", str(t.recordings_processed)),
        ("Processing speed", f"{_num(t.processing_speed)}× real time" if t.processing_speed else "–"),
    ]


def figure_tables(stats: PracticeStats) -> list[FigureTable]:
    """Every chart's figures as a table of text cells (dates ISO, numbers plain, empty where there is none)."""
    return [
        FigureTable(
            "sessions",
            "Sessions and hours per week",
            ["Week of", "Sessions", "Hours"],
            [[w.week.isoformat(), str(w.sessions), _num(w.hours)] for w in stats.sessions],
        ),
        FigureTable(
            "notes",
            "Notes signed and in draft, per week",
            ["Week of", "Signed", "Draft", "No note"],
            [[n.week.isoformat(), str(n.signed), str(n.draft), str(n.no_note)] for n in stats.notes],
        ),
        FigureTable(
            "sign_days",
            "Days to a signed note, median per week",
            ["Week of", "Signed notes", "Median days"],
            [[n.week.isoformat(), str(n.signed), _num(n.median_days_to_sign)] for n in stats.notes],
        ),
        FigureTable(
            "sign_delays",
            "How soon notes are signed",
            ["Signed", "Notes"],
            [[d.label, str(d.notes)] for d in stats.sign_delays],
        ),
        FigureTable(
            "processing",
            "Processing speed per week (audio minutes per minute)",
            ["Week of", "Recordings", "Audio minutes", "Processing minutes", "Speed"],
            [
                [
                    p.week.isoformat(),
                    str(p.recordings),
                    _num(p.audio_minutes),
                    _num(p.processing_minutes),
                    _num(p.speed),
                ]
                for p in stats.processing
            ],
        ),
        FigureTable(
            "risk",
            "Risk flags raised per month",
            ["Month", *(kind_label(k) for k in stats.risk_kinds), "Total"],
            [
                [m.month.strftime("%Y-%m"), *(str(m.flags[k]) for k in stats.risk_kinds), str(sum(m.flags.values()))]
                for m in stats.risk
            ],
        ),
    ]
