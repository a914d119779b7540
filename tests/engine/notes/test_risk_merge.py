"""Rule and model risk flags merged; the risk content a note carries when suicidal ideation or self-harm came up."""

from __future__ import annotations

from tbdesktop.engine.notes import NoteSection, NoteSentence, NoteTemplateSpec, RiskFlagResult, TranscriptLine
from tbdesktop.engine.notes.risk_merge import checked_summary, merge_flags, risk_content, risk_target

LINES = [
    TranscriptLine(0, 0.0, 5.0, "SPEAKER_00", "therapist", "How has your week been?"),
    TranscriptLine(
        1, 5.0, 12.0, "SPEAKER_01", "client", "Sometimes I think everyone would be better off if I was not here."
    ),
    TranscriptLine(2, 12.0, 16.0, "SPEAKER_00", "therapist", "Have you had thoughts of ending your life?"),
    TranscriptLine(3, 16.0, 21.0, "SPEAKER_01", "client", "I have thought about it, but I do not have a plan."),
    TranscriptLine(
        4,
        21.0,
        30.0,
        "SPEAKER_00",
        "therapist",
        "Let's write a safety plan together, and you can call the crisis line at 988.",
    ),
    TranscriptLine(5, 30.0, 34.0, "SPEAKER_01", "client", "Okay, I can do that."),
    TranscriptLine(6, 34.0, 40.0, "SPEAKER_00", "therapist", "I will see you again next Thursday."),
]
SOAP = NoteTemplateSpec.from_content(
    "SOAP",
    {
        "sections": [
            {"key": "subjective", "title": "Subjective", "instructions": "What the client said."},
            {"key": "assessment", "title": "Assessment", "instructions": "The clinical picture."},
            {"key": "plan", "title": "Plan", "instructions": "Next steps."},
        ]
    },
)
SI = RiskFlagResult("suicidal_ideation", "low", "I have thought about it", 3, detail="passive ideation; denies a plan")


def test_the_rule_flags_are_a_floor_and_the_model_can_only_add_or_raise() -> None:
    rules = [SI, RiskFlagResult("substance_use", "moderate", "six beers", 5)]
    model = [
        RiskFlagResult("suicidal_ideation", "moderate", "thought about it", 3, source="model"),
        RiskFlagResult("suicidal_ideation", "moderate", "better off if I was not here", 1, source="model"),
    ]
    merged = merge_flags(rules, model)
    assert [(f.segment_idx, f.kind, f.severity, f.source) for f in merged] == [
        (1, "suicidal_ideation", "moderate", "model"),
        (3, "suicidal_ideation", "moderate", "rules+model"),
        (5, "substance_use", "moderate", "rules"),
    ]
    assert merged[1].quote == SI.quote and merged[1].detail == SI.detail  # the rule's words and qualifier stay
    lowered = merge_flags(rules, [RiskFlagResult("substance_use", "denied", "beers", 5, source="model")])
    assert [(f.kind, f.severity) for f in lowered if f.kind == "substance_use"] == [("substance_use", "moderate")]


def test_suicidal_ideation_puts_the_flag_and_the_safety_steps_in_the_assessment_cited() -> None:
    written = [NoteSection(s.key, s.title) for s in SOAP.sections]
    sections = risk_content(written, SOAP, [SI], LINES)
    assessment = sections[1]
    texts = [s.text for s in assessment.sentences]
    assert texts[0] == 'Suicidal ideation (low; passive ideation; denies a plan) — Client: "I have thought about it"'
    assert assessment.sentences[0].evidence == (3,)
    steps = [s for s in assessment.sentences if s.text.startswith("Safety step")]
    assert [s.evidence for s in steps] == [(4, 5), (6,)]  # safety plan and crisis line (agreed), next appointment
    assert sections[0].sentences == () and sections[2].sentences == ()


def test_a_denial_is_documented_without_safety_steps_and_other_kinds_add_nothing() -> None:
    denied = RiskFlagResult("suicidal_ideation", "denied", "No, never", 3)
    sections = risk_content([NoteSection(s.key, s.title) for s in SOAP.sections], SOAP, [denied], LINES)
    assert [s.text for s in sections[1].sentences] == ['Suicidal ideation (denied) — Client: "No, never"']
    drink = RiskFlagResult("substance_use", "moderate", "six beers", 5)
    unchanged = risk_content([NoteSection(s.key, s.title) for s in SOAP.sections], SOAP, [drink], LINES)
    assert all(s.sentences == () for s in unchanged)


def test_the_risk_section_is_chosen_by_name_then_assessment_then_the_first() -> None:
    intake = NoteTemplateSpec.from_content(
        "Intake",
        {
            "sections": [
                {"key": "presenting_problem", "title": "Presenting problem", "instructions": "Why now."},
                {"key": "assessment", "title": "Assessment", "instructions": "Picture."},
                {"key": "risk", "title": "Risk", "instructions": "Risks."},
            ]
        },
    )
    birp = NoteTemplateSpec.from_content(
        "BIRP",
        {
            "sections": [
                {"key": "behavior", "title": "Behavior", "instructions": "Presentation."},
                {"key": "plan", "title": "Plan", "instructions": "Next."},
            ]
        },
    )
    assert risk_target(intake).key == "risk"
    assert risk_target(SOAP).key == "assessment"
    assert risk_target(birp).key == "behavior"


def test_a_line_already_cited_in_the_section_is_not_repeated() -> None:
    written = [
        NoteSection("subjective", "Subjective"),
        NoteSection("assessment", "Assessment", (NoteSentence("The client disclosed passive ideation.", (3,)),)),
        NoteSection("plan", "Plan"),
    ]
    sections = risk_content(written, SOAP, [SI], LINES)
    assert [s.evidence for s in sections[1].sentences][-1] == (3,)
    assert sum(1 for s in sections[1].sentences if s.evidence == (3,)) == 1


def test_a_summary_keeps_only_sentences_the_cited_lines_support() -> None:
    sections = [NoteSection("assessment", "Assessment", (NoteSentence("x", (1, 3, 4)),))]
    summary = (
        "The client disclosed passive suicidal thoughts and denied a plan. "
        "The client was diagnosed with bipolar disorder."
    )
    assert checked_summary(summary, sections, LINES) == (
        "The client disclosed passive suicidal thoughts and denied a plan."
    )
