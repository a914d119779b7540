"""The offline note generator: the right utterances in the right sections, quoted and cited honestly."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tbdesktop.engine.errors import Cancelled
from tbdesktop.engine.notes import (
    NOT_DISCUSSED,
    STAGE,
    GeneratedNote,
    NoteGenerator,
    NoteSection,
    NoteTemplateSpec,
    TranscriptLine,
)
from tbdesktop.engine.notes.local import MAX_SENTENCES, LocalNoteGenerator
from tbdesktop.engine.notes.risk import detect_risks
from tbdesktop.engine.notes.summary import EMPTY_SUMMARY, MAX_SUMMARY_CHARS, NO_TOPIC_SUMMARY, summarise

from .test_risk import BENIGN, DENIAL, SUICIDAL_PLAN, C, T, lines_of

SLEEP_AND_ALCOHOL = [
    (T, "Hi, good to see you again. How have things been since last week?"),
    (C, "Um, not great, honestly. I only sleep about five hours a night and I'm exhausted at work."),
    (T, "That sounds really hard. What happens when you try to fall asleep?"),
    (C, "I lie there and my mind keeps racing about work, you know, the deadlines and my boss."),
    (C, "So I've been having, like, three or four glasses of wine most nights to help me fall asleep."),
    (T, "It sounds like the wine and the work stress might be connected to the sleep problems."),
    (C, "Yeah, I guess I never thought about it that way."),
    (T, "On a scale of one to ten, how would you rate your stress this week?"),
    (C, "I'd say an eight out of ten."),
    (T, "Let's try a breathing exercise together. Breathe in for four counts, hold, and breathe out slowly."),
    (C, "That actually helped. I feel a bit calmer."),
    (T, "For homework this week, I'd like you to practise the breathing exercise every night before bed."),
    (C, "Okay, I will try that and I'll cut back to one glass of wine."),
    (T, "Great. Next week we will go over how your sleep has been."),
]

# Passive suicidal ideation, a denied plan, a safety plan and a follow-up agreed; the client's "I will never …"
# is about their children, not a plan.
PASSIVE_IDEATION = [
    (T, "How have things been since we last met?"),
    (C, "Not great. I have not been sleeping and work has been really stressful."),
    (T, "It sounds like a lot. How has your mood been?"),
    (C, "Pretty low. Sometimes I think everyone would be better off if I was not here."),
    (T, "Thank you for telling me that. Have you had any thoughts of ending your life?"),
    (C, "I have thought about it, but I do not have a plan."),
    (T, "What helps you stay safe when those thoughts come?"),
    (C, "My kids. I will never do that to my kids."),
    (
        T,
        "I would like us to write a safety plan together today. "
        "If things get worse, you can call the crisis line at 988.",
    ),
    (C, "Okay. I can do that."),
    (T, "Let's meet again next week, and I will call you on Thursday to check in."),
    (C, "Yes, that works for me."),
]


def template(name: str, *sections: tuple[str, str, str], max_words: int | None = None) -> NoteTemplateSpec:
    items: list[dict[str, Any]] = [{"key": k, "title": t, "instructions": i} for k, t, i in sections]
    if max_words is not None:
        for item in items:
            item["max_words"] = max_words
    return NoteTemplateSpec.from_content(name, {"sections": items})


SUBJECTIVE = (
    "subjective",
    "Subjective",
    "The client's reported concerns, symptoms, mood and relevant history in their own words",
)
OBJECTIVE = (
    "objective",
    "Objective",
    "Observable facts: appearance, affect, behaviour, and measurable data such as scores",
)
ASSESSMENT = ("assessment", "Assessment", "Clinical impression, progress toward goals, risk")
PLAN = ("plan", "Plan", "Next steps, homework, referrals, next session")
SOAP = template("SOAP", SUBJECTIVE, OBJECTIVE, ASSESSMENT, PLAN)
DAP = template(
    "DAP",
    ("data", "Data", "What the client reported and what was observed: concerns, symptoms, events since last session"),
    ("assessment", "Assessment", "The therapist's interpretation: progress toward goals and themes"),
    PLAN,
)
BIRP = template(
    "BIRP",
    ("behavior", "Behavior", "The client's presentation and what they reported: mood, symptoms and behaviours"),
    ("intervention", "Intervention", "What the therapist did: techniques, reflections, psychoeducation, skills"),
    ("response", "Response", "How the client responded to the interventions"),
    PLAN,
)
WITH_MEDICATIONS = template(
    "Medication review",
    SUBJECTIVE,
    ("medications", "Medications", "Current psychiatric medications, doses, adherence and side effects"),
    PLAN,
)
WITH_RISK = template(
    "Progress note",
    ("focus", "Session focus", "The main topics and concerns discussed in this session."),
    ("risk", "Risk", "Suicidal thoughts, self-harm, harm to others, abuse, substance use, including denials."),
    PLAN,
)
QUOTE = re.compile(r'([^":]+): "([^"]*)"')


def generate(dialogue: list[tuple[str | None, str]], spec: NoteTemplateSpec, **kwargs: Any) -> GeneratedNote:
    return LocalNoteGenerator().generate(lines_of(dialogue), spec, **kwargs)


def section(note: GeneratedNote, key: str) -> NoteSection:
    return next(s for s in note.sections if s.key == key)


def words(text: str) -> set[str]:
    return {w.strip("'’") for w in re.findall(r"[\w'’]+", text.lower())}


def assert_quotes_are_in_cited_segments(note: GeneratedNote, lines: list[TranscriptLine]) -> int:
    """Every quoted phrase's words occur in one of the segments its sentence cites, spoken by the labelled role."""
    by_idx = {line.idx: line for line in lines}
    checked = 0
    for sec in note.sections:
        for sentence in sec.sentences:
            pairs = QUOTE.findall(sentence.text)
            assert pairs, sentence.text
            cited = [by_idx[i] for i in sentence.evidence]
            for label, quote in pairs:
                matches = [line for line in cited if words(quote.replace("…", "")) <= words(line.text)]
                assert matches, (sentence.text, [line.text for line in cited])
                role = label.split("—")[-1].split()[0].strip().lower()  # "Self-harm (low) — Client" is the client
                assert any(line.role == role for line in matches), (label, [line.role for line in matches])
                checked += 1
    return checked


def test_generator_protocol_and_name() -> None:
    generator: NoteGenerator = LocalNoteGenerator()
    note = generator.generate(lines_of(SLEEP_AND_ALCOHOL), SOAP)
    assert generator.name == "local" and note.generator == "local"
    assert [s.key for s in note.sections] == ["subjective", "objective", "assessment", "plan"]
    assert [s.title for s in note.sections] == ["Subjective", "Objective", "Assessment", "Plan"]


def test_soap_puts_the_sleep_complaint_in_subjective_and_the_homework_in_plan() -> None:
    note = generate(SLEEP_AND_ALCOHOL, SOAP)
    subjective, plan = section(note, "subjective"), section(note, "plan")
    assert 1 in subjective.evidence
    assert 'Client: "I only sleep about five hours a night' in subjective.text
    assert all("Therapist suggested" not in s.text for s in subjective.sentences)
    assert 11 in plan.evidence
    homework = next(s for s in plan.sentences if 11 in s.evidence)
    assert homework.text.startswith('Therapist suggested: "For homework this week')
    assert 1 not in plan.evidence


def test_objective_holds_only_what_was_measured_or_said() -> None:
    note = generate(SLEEP_AND_ALCOHOL, SOAP)
    objective = section(note, "objective")
    assert objective.evidence == (7, 8)  # the rating question and its answer
    assert "eight out of ten" in objective.text
    assert section(generate(BENIGN, SOAP), "objective").text == NOT_DISCUSSED  # never a default "normal" finding


@pytest.mark.parametrize(
    ("dialogue", "spec"),
    [
        (SLEEP_AND_ALCOHOL, SOAP),
        (SLEEP_AND_ALCOHOL, DAP),
        (SLEEP_AND_ALCOHOL, BIRP),
        (SUICIDAL_PLAN, SOAP),
        (SUICIDAL_PLAN, WITH_RISK),
        (DENIAL, WITH_RISK),
        (BENIGN, BIRP),
    ],
)
def test_every_quote_is_found_in_the_segments_it_cites(dialogue: list[tuple[str, str]], spec: NoteTemplateSpec) -> None:
    lines = lines_of(dialogue)
    note = LocalNoteGenerator().generate(lines, spec)
    assert assert_quotes_are_in_cited_segments(note, lines) >= 3
    for sec in note.sections:
        assert len(sec.sentences) <= MAX_SENTENCES
        assert all(s.evidence for s in sec.sentences)


def test_a_topic_absent_from_the_transcript_is_not_discussed() -> None:
    note = generate(SLEEP_AND_ALCOHOL, WITH_MEDICATIONS)
    medications = section(note, "medications")
    assert medications.sentences == () and medications.text == "Not discussed in this session."
    assert section(note, "subjective").sentences  # the rest of the note is still there
    mentioned = [*SLEEP_AND_ALCOHOL, (C, "My doctor started me on sertraline, 50 mg every morning.")]
    medications = section(generate(mentioned, WITH_MEDICATIONS), "medications")
    assert medications.evidence == (len(SLEEP_AND_ALCOHOL),) and "sertraline" in medications.text


def test_birp_interventions_are_the_therapists_and_responses_the_clients() -> None:
    lines = lines_of(SLEEP_AND_ALCOHOL)
    note = LocalNoteGenerator().generate(lines, BIRP)
    intervention, response = section(note, "intervention"), section(note, "response")
    assert 9 in intervention.evidence and "breathing exercise" in intervention.text
    assert all(lines[i].role == T for i in intervention.evidence)
    assert response.sentences and all(lines[i].role == C for i in response.evidence)
    assert 1 in section(note, "behavior").evidence


def test_dap_data_carries_the_client_report() -> None:
    note = generate(SLEEP_AND_ALCOHOL, DAP)
    data = section(note, "data")
    assert {1, 4} <= set(data.evidence)
    assert "glasses of wine" in data.text
    assert 11 in section(note, "plan").evidence


def test_fillers_are_dropped_and_the_speakers_words_kept() -> None:
    note = generate(SLEEP_AND_ALCOHOL, SOAP)
    subjective = section(note, "subjective").text
    assert "three or four glasses of wine most nights" in subjective
    assert "like," not in subjective and "Um" not in subjective


def test_a_risk_section_quotes_the_flags() -> None:
    crisis = generate(SUICIDAL_PLAN, WITH_RISK)
    risk = section(crisis, "risk")
    assert {3, 5} <= set(risk.evidence)
    assert "I have a plan." in risk.text
    assert [(f.kind, f.severity) for f in crisis.risk_flags] == [
        ("suicidal_ideation", "moderate"),
        ("suicidal_ideation", "high"),
    ]
    denial = section(generate(DENIAL, WITH_RISK), "risk")
    assert 'Client: "I would never kill myself, I have my kids to think about."' in denial.text
    assert 'Therapist asked: "And any thoughts of hurting anyone else?" Client: "No."' in denial.text
    assert section(generate(BENIGN, WITH_RISK), "risk").text == NOT_DISCUSSED


def test_risk_asked_for_in_instructions_is_added_when_there_is_no_risk_section() -> None:
    assessment = section(generate(SUICIDAL_PLAN, SOAP), "assessment")
    assert 5 in assessment.evidence and "I have a plan." in assessment.text
    assert "plan" not in section(generate(BENIGN, SOAP), "assessment").text.lower()


def test_max_words_is_respected() -> None:
    spec = template("Short SOAP", SUBJECTIVE, OBJECTIVE, ASSESSMENT, PLAN, max_words=12)
    lines = lines_of(SLEEP_AND_ALCOHOL)
    note = LocalNoteGenerator().generate(lines, spec)
    assert section(note, "subjective").sentences
    for sec in note.sections:
        assert len(sec.text.split()) <= 12 or sec.text == NOT_DISCUSSED
    assert_quotes_are_in_cited_segments(note, lines)


def test_a_long_session_is_capped_and_deterministic() -> None:
    long = [(role, text) for _ in range(60) for role, text in SLEEP_AND_ALCOHOL]  # 840 segments
    first = generate(long, SOAP)
    assert first == generate(long, SOAP)
    for sec in first.sections:
        assert 1 <= len(sec.sentences) <= MAX_SENTENCES


def test_progress_is_reported_per_section() -> None:
    calls: list[tuple[str, float, float | None]] = []
    generate(SLEEP_AND_ALCOHOL, SOAP, on_progress=lambda *a: calls.append(a))
    assert {stage for stage, _, _ in calls} == {STAGE}
    fractions = [f for _, f, _ in calls]
    assert len(fractions) >= len(SOAP.sections) and fractions == sorted(fractions)
    assert 0.0 < fractions[0] < 1.0 and fractions[-1] == 1.0


@pytest.mark.parametrize("after", [0, 2])
def test_cancel_between_sections(after: int) -> None:
    checks: list[int] = []

    def should_cancel() -> bool:
        checks.append(1)
        return len(checks) > after

    with pytest.raises(Cancelled):
        generate(SLEEP_AND_ALCOHOL, SOAP, should_cancel=should_cancel)
    assert len(checks) == after + 1


def test_an_empty_transcript() -> None:
    calls: list[tuple[str, float, float | None]] = []
    for lines in ([], [TranscriptLine(0, 0.0, 1.0, "SPEAKER_00", None, "  ")]):
        calls.clear()
        note = LocalNoteGenerator().generate(lines, SOAP, on_progress=lambda *a: calls.append(a))
        assert [s.text for s in note.sections] == [NOT_DISCUSSED] * 4
        assert note.summary == "No speech was transcribed in this session." == EMPTY_SUMMARY
        assert note.risk_flags == () and calls[-1][1] == 1.0


def test_unlabelled_speakers_are_quoted_by_their_labels() -> None:
    lines = [
        TranscriptLine(n, float(n), n + 1.0, line.speaker, None, line.text)
        for n, line in enumerate(lines_of(SLEEP_AND_ALCOHOL))
    ]
    note = LocalNoteGenerator().generate(lines, SOAP)
    assert note.warnings and "roles" in note.warnings[0]
    assert 'SPEAKER_01: "I only sleep about five hours' in note.sections[0].text
    plan = section(note, "plan")  # without roles, any speaker's proposal and another speaker's agreement
    assert plan.sentences[0].evidence == (11, 12)
    assert plan.text.startswith('SPEAKER_00: "For homework this week') and 'SPEAKER_01 agreed: "Okay,' in plan.text


def test_summary_names_real_topics_and_what_was_agreed() -> None:
    note = generate(SLEEP_AND_ALCOHOL, SOAP)
    assert note.summary.startswith("Client discussed ")
    assert "sleep" in note.summary and "alcohol use" in note.summary and "agreed to homework" in note.summary
    assert len(note.summary) <= MAX_SUMMARY_CHARS and note.summary.count(". ") == 1  # topics, then the risk
    assert note.summary.endswith("Flagged for review: substance use.")

    crisis = generate(SUICIDAL_PLAN, WITH_RISK).summary
    assert "Suicidal ideation was disclosed; a plan was described, and a safety plan was agreed." in crisis
    assert len(crisis) <= MAX_SUMMARY_CHARS
    calm = generate(DENIAL, WITH_RISK).summary  # a denial is not a risk
    assert "disclosed" not in calm and "Flagged" not in calm and calm.endswith(".") and calm.count(". ") == 0
    assert "work" in generate(BENIGN, SOAP).summary


def test_summarise_never_makes_a_topic_of_a_stray_word() -> None:
    wordy = [(C, f"{w} {w} {w} {w}.") for w in ("extraordinarily", "overcommitment", "procrastination") * 3]
    lines = lines_of(wordy)
    summary = summarise(lines, (), detect_risks(lines))
    assert summary == NO_TOPIC_SUMMARY
    assert summarise([], (), ()) == EMPTY_SUMMARY
    assert summarise(lines_of([(C, "Okay.")]), (), ()).startswith("Brief session")


def test_the_plan_is_what_the_therapist_proposed_and_the_client_agreed() -> None:
    lines = lines_of(PASSIVE_IDEATION)
    plan = section(LocalNoteGenerator().generate(lines, SOAP), "plan")
    assert 7 not in plan.evidence and "never do that" not in plan.text  # a client's future tense is not a plan
    assert [s.evidence for s in plan.sentences] == [(8, 9), (10, 11)]
    safety, follow_up = plan.sentences
    assert safety.text.startswith('Therapist suggested: "I would like us to write a safety plan together today.')
    assert safety.text.endswith('Client agreed: "Okay. I can do that."')
    assert follow_up.text.endswith('Client agreed: "Yes, that works for me."')

    homework = section(generate(SLEEP_AND_ALCOHOL, SOAP), "plan")
    assert (11, 12) in [s.evidence for s in homework.sentences]
    assert 'Client agreed: "Okay, I will try that and I\'ll cut back to one glass of wine."' in homework.text


def test_a_plan_without_a_proposal_is_not_discussed() -> None:
    musing = [
        (T, "How was the week?"),
        (C, "Busy. I will probably visit my sister at the weekend and I'm going to start the new job in May."),
        (T, "It sounds like a lot is changing."),
        (C, "Yes. I will never go back to that old job."),
    ]
    for spec in (SOAP, DAP, BIRP):
        assert section(generate(musing, spec), "plan").text == NOT_DISCUSSED


@pytest.mark.parametrize(("spec", "carrier"), [(SOAP, "assessment"), (DAP, "assessment"), (BIRP, "behavior")])
def test_suicidal_ideation_and_safety_steps_go_to_the_assessment(spec: NoteTemplateSpec, carrier: str) -> None:
    lines = lines_of(PASSIVE_IDEATION)
    note = LocalNoteGenerator().generate(lines, spec)
    held = section(note, carrier)
    ideation = [f for f in note.risk_flags if f.kind == "suicidal_ideation"]
    assert ideation and {f.segment_idx for f in ideation} <= set(held.evidence)
    assert 5 in held.evidence  # "I have thought about it, but I do not have a plan."
    for flag in ideation:
        said = next(s.text for s in held.sentences if flag.segment_idx in s.evidence)
        assert said.startswith(f"Suicidal ideation ({flag.severity}") and (flag.detail or flag.severity) in said
    steps = [s for s in held.sentences if s.text.startswith("Safety step (")]
    assert [s.evidence for s in steps] == [(8, 9), (10, 11)]
    assert "safety plan" in steps[0].text and "crisis line at 988" in steps[0].text
    assert "follow-up" in steps[1].text.split("—")[0]
    assert held.sentences[: len(ideation)] == tuple(s for s in held.sentences if s.text.startswith("Suicidal"))
    assert_quotes_are_in_cited_segments(note, lines)


def test_a_risk_section_holds_the_flags_and_the_safety_steps() -> None:
    risk = section(generate(PASSIVE_IDEATION, WITH_RISK), "risk")
    assert risk.sentences[0].text.startswith("Suicidal ideation (")
    assert any(s.text.startswith("Safety step (safety plan; crisis line) — Therapist") for s in risk.sentences)
    assessment = section(
        generate(PASSIVE_IDEATION, template("Two", SUBJECTIVE, ASSESSMENT, ("risk", "Risk", "Any risk"))), "assessment"
    )
    assert "Safety step" not in assessment.text and "Suicidal ideation (" not in assessment.text


def test_no_risk_finding_is_written_that_nobody_said() -> None:
    for dialogue in (BENIGN, DENIAL, SLEEP_AND_ALCOHOL, PASSIVE_IDEATION):
        for spec in (SOAP, DAP, BIRP, WITH_RISK):
            text = " ".join(s.text for s in generate(dialogue, spec).sections).lower()
            assert "no risk" not in text and "within normal limits" not in text and "wnl" not in words(text)
    denial = section(generate(DENIAL, SOAP), "assessment")
    assert "Safety step" not in denial.text  # a denial calls for no safety step
    assert "Suicidal ideation (denied) — " in denial.text


def test_summary_of_the_passive_ideation_session() -> None:
    summary = generate(PASSIVE_IDEATION, SOAP).summary
    assert summary.startswith("Client discussed ") and len(summary) <= MAX_SUMMARY_CHARS
    assert "sleep" in summary and "work stress" in summary
    assert summary.endswith(
        "Passive suicidal ideation was disclosed; the client denied a plan, and a safety plan was agreed."
    )
    assert "sleep and work." not in summary
