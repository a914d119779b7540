"""Transcript lines as data: speaker numbers, names and colours, a line's row text, the choices to move a line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tbdesktop.services.dto import SegmentInfo
from tbdesktop.ui.formatting import timestamp

# Speaker chips: (text, background) pairs, calm and distinguishable.
SPEAKER_COLOURS = (
    ("#1f5f63", "#e1f0ef"),
    ("#6a3d8f", "#efe7f6"),
    ("#8a5a12", "#f8eedb"),
    ("#27548a", "#e3ecf8"),
    ("#8c2f4f", "#f7e4eb"),
    ("#3f6b2a", "#e8f2e1"),
)

ROLE_CHOICES = (
    ("therapist", "Therapist"),
    ("client", "Client"),
    ("partner", "Partner"),
    ("participant", "Participant"),
    ("other", "Other"),
)


def speaker_number(speaker: str) -> str:
    """`SPEAKER_01` → `Speaker 2`: what a therapist reads."""
    tail = speaker.rsplit("_", 1)[-1]
    return f"Speaker {int(tail) + 1}" if tail.isdigit() else speaker


def role_text(role: str) -> str:
    return dict(ROLE_CHOICES).get(role, role.title())


def speaker_name(speakers: dict[str, Any], speaker: str) -> str | None:
    """The name the therapist gave a speaker (e.g. "Dana"), if any."""
    entry = speakers.get(speaker)
    name = entry.get("name") if isinstance(entry, dict) else None
    return str(name).strip() or None if name else None


def line_labels(
    segment: SegmentInfo, speakers: dict[str, Any] | None = None, *, hide_names: bool = False
) -> tuple[str, str]:
    """(label, sub-label) of a line's speaker: the name over the role, else the role over the number, else the
    number alone."""
    name = None if hide_names else speaker_name(speakers or {}, segment.speaker)
    number = speaker_number(segment.speaker or "SPEAKER")
    if name:
        return name, role_text(segment.role) if segment.role else number
    if segment.role:
        return role_text(segment.role), number
    return number, ""


def speaker_label(segment: SegmentInfo, speakers: dict[str, Any] | None = None, *, hide_names: bool = False) -> str:
    """Who said a line, as the transcript shows it: `Dana`, `Therapist` or `Speaker 2`."""
    return line_labels(segment, speakers, hide_names=hide_names)[0]


def segment_row(
    segment: SegmentInfo,
    *,
    with_hours: bool = False,
    speakers: dict[str, Any] | None = None,
    hide_names: bool = False,
) -> str:
    """The plain-text form of a transcript row: `01:23  Therapist  text`."""
    label = speaker_label(segment, speakers, hide_names=hide_names)
    return f"{timestamp(segment.start_s, with_hours=with_hours)}  {label}  {segment.text}"


@dataclass(frozen=True)
class Line:
    """What one transcript row shows."""

    idx: int
    start_s: float
    end_s: float
    speaker: str
    stamp: str
    label: str
    sublabel: str
    colours: tuple[str, str]  # chip text, chip background
    text: str

    @property
    def row(self) -> str:
        """The row as text (what assistive technology reads): `01:23  Client (Speaker 2)  words`."""
        who = f"{self.label} ({self.sublabel})" if self.sublabel else self.label
        return f"{self.stamp}  {who}  {self.text}"


def speaker_colours(segments: list[SegmentInfo], speakers: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """One colour per speaker, in order of first appearance; the same in the speakers bar and the transcript."""
    colours: dict[str, tuple[str, str]] = {}
    for seg in segments:
        if seg.speaker not in colours:
            colours[seg.speaker] = SPEAKER_COLOURS[len(colours) % len(SPEAKER_COLOURS)]
    for speaker in sorted(speakers):
        colours.setdefault(speaker, SPEAKER_COLOURS[len(colours) % len(SPEAKER_COLOURS)])
    return colours


def build_lines(
    segments: list[SegmentInfo],
    speakers: dict[str, Any],
    colours: dict[str, tuple[str, str]],
    *,
    hide_names: bool = False,
) -> list[Line]:
    with_hours = any(s.start_s >= 3600 for s in segments)
    lines = []
    for seg in segments:
        label, sublabel = line_labels(seg, speakers, hide_names=hide_names)
        lines.append(
            Line(
                idx=seg.idx,
                start_s=seg.start_s,
                end_s=seg.end_s,
                speaker=seg.speaker,
                stamp=timestamp(seg.start_s, with_hours=with_hours),
                label=label,
                sublabel=sublabel,
                colours=colours.get(seg.speaker, SPEAKER_COLOURS[0]),
                text=seg.text,
            )
        )
    return lines


def speaker_choices(
    segments: list[SegmentInfo], speakers: dict[str, Any], *, hide_names: bool = False
) -> list[tuple[str, str]]:
    """(speaker, label) of everyone who speaks in the session, for moving a line to them: `Dana (Client)`."""
    roles: dict[str, str | None] = {}
    for speaker, entry in speakers.items():
        roles[speaker] = (str(entry.get("role") or "") or None) if isinstance(entry, dict) else None
    for seg in segments:
        if not roles.get(seg.speaker):
            roles[seg.speaker] = seg.role
    choices = []
    for speaker in sorted(roles):
        number = speaker_number(speaker)
        role = roles[speaker]
        name = None if hide_names else speaker_name(speakers, speaker)
        detail = role_text(role) if role else ""
        if name:
            label = f"{name} ({detail or number})"
        elif detail:
            label = f"{detail} ({number})"
        else:
            label = number
        choices.append((speaker, label))
    return choices
