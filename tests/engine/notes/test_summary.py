"""The card summary reads as English: curated topics, what was agreed, and a risk sentence the transcript supports."""

from __future__ import annotations

import re

import pytest

from tbdesktop.engine.notes.risk import detect_risks
from tbdesktop.engine.notes.summary import MAX_SUMMARY_CHARS, NO_TOPIC_SUMMARY, TOPICS, plan_steps, summarise

from .test_risk import C, T, lines_of

# A motivational-interviewing exchange in the style of real counselling demonstrations: the client's most
# frequent content words ("change", "different", "know") are not concerns.
MI_DIALOGUE = [
    (T, "Thanks for coming in today. What brings you here?"),
    (C, "My doctor said my drinking is a problem. I don't know, I think it's different for me, I can handle it."),
    (T, "So you see your drinking differently from how your doctor sees it."),
    (C, "Yeah. I mean, I have a couple of beers after work, maybe more on the weekend. It's no different from anyone."),
    (T, "What would have to be different for you to consider a change?"),
    (C, "I guess if it started affecting my job. My boss did say something about me being late a few times."),
    (T, "So it might already be touching your work."),
    (C, "Maybe. I don't want to change everything, but I know I've been sleeping badly and feeling anxious."),
    (T, "You've noticed the sleep and the anxiety. How do they fit with the drinking?"),
    (C, "When I drink I fall asleep fast but then I wake at three and I worry about everything. A change might help."),
    (T, "Would you be willing to keep a drinking diary this week, and we can look at it together next session?"),
    (C, "Okay, I can do that."),
]
TOPIC_NAMES = {name for name, _ in TOPICS} | {"work stress"}
SENTENCE = re.compile(r"[A-Z][^.!?]*[.!?]")


def assert_reads_as_english(summary: str) -> None:
    """One to three plain sentences, no stray spacing or punctuation, within the card's limit."""
    assert 0 < len(summary) <= MAX_SUMMARY_CHARS
    assert "  " not in summary and " ," not in summary and " ." not in summary and ",," not in summary
    sentences = SENTENCE.findall(summary)
    assert " ".join(sentences) == summary and 1 <= len(sentences) <= 3, summary


def named_topics(summary: str) -> list[str]:
    match = re.match(r"Clients? discussed (.+?)(?:,? and agreed to [^.]+)?\.", summary)
    assert match, summary
    return [t for part in match.group(1).split(", ") for t in part.split(" and ")]


def test_an_mi_dialogue_names_only_curated_topics() -> None:
    lines = lines_of(MI_DIALOGUE)
    summary = summarise(lines, (), detect_risks(lines))
    assert_reads_as_english(summary)
    topics = named_topics(summary)
    assert topics[0] == "alcohol use" and {"sleep", "anxiety"} <= set(topics)
    assert set(topics) <= TOPIC_NAMES
    assert not {"different", "change", "know"} & set(re.findall(r"[a-z]+", summary))
    assert "agreed to homework and a follow-up appointment" in summary


def test_topics_are_never_stray_words() -> None:
    repeated = [(C, "Different, different, different. Everything is different and I want change, change, change.")] * 4
    lines = lines_of(repeated)
    assert summarise(lines, (), ()) == NO_TOPIC_SUMMARY


@pytest.mark.parametrize(
    ("dialogue", "expected"),
    [
        (
            [
                (T, "Have you had any thoughts of killing yourself?"),
                (C, "Yes. I have a plan to take the pills."),
                (T, "Let's make a safety plan together right now."),
                (C, "Okay."),
            ],
            "Suicidal ideation was disclosed; a plan was described, and a safety plan was agreed.",
        ),
        (
            [
                (C, "Last night I cut myself again when things got bad at work."),
                (T, "Here is the crisis line number, 988, if it happens again tonight."),
            ],
            "Self-harm was disclosed; crisis line details were given.",
        ),
        (
            [(T, "Have you had thoughts of ending your life?"), (C, "Sometimes. I think about it but I have no plan.")],
            "uicidal ideation was disclosed; the client denied a plan.",  # passive or not, as the flag's detail says
        ),
    ],
)
def test_the_risk_sentence_says_what_the_transcript_supports(dialogue: list[tuple[str, str]], expected: str) -> None:
    lines = lines_of(dialogue)
    flags = detect_risks(lines)
    assert any(f.kind in ("suicidal_ideation", "self_harm") and f.severity != "denied" for f in flags)
    summary = summarise(lines, (), flags)
    assert_reads_as_english(summary)
    assert summary.endswith(expected), summary


def test_a_denial_adds_no_risk_sentence() -> None:
    lines = lines_of([(T, "Any thoughts of hurting yourself?"), (C, "No, never. Work has been stressful though.")])
    summary = summarise(lines, (), detect_risks(lines))
    assert "disclosed" not in summary and "Flagged" not in summary and "risk" not in summary.lower()


def test_plan_steps_are_proposals_with_the_clients_agreement() -> None:
    lines = lines_of(
        [
            (T, "Nice to see you again."),
            (C, "Thanks. I will never go back to that job."),
            (T, "It sounds like you kept a journal last week."),
            (C, "I did."),
            (T, "For homework, keep a sleep diary every night this week."),
            (C, "Okay, I'll do it."),
            (T, "I'd like to refer you to a psychiatrist for a medication review."),
            (C, "No, I don't want that."),
            (T, "I'll see you next week."),
            (C, "I will never forget this."),
        ]
    )
    steps = plan_steps(lines)
    assert [(s.line.idx, s.kinds) for s in steps] == [
        (4, ("homework",)),
        (6, ("referral",)),
        (8, ("next appointment",)),
    ]
    assert [s.agreement.idx if s.agreement else None for s in steps] == [5, None, None]
    summary = summarise(lines, (), ())
    assert_reads_as_english(summary)
    assert "agreed to homework." in summary and "referral" not in summary


def test_a_long_list_stays_within_the_card() -> None:
    talk = (
        "My sleep is bad, work is stressful, my boss yells, I drink wine, I smoke, my wife and I argue, my mother "
        "is sick, money is tight, I feel anxious and lonely and my weight is up."
    )
    dialogue = [(C, talk)] * 3 + [
        (T, "Let's make a safety plan, and for homework keep a diary every night."),
        (C, "Okay."),
        (T, "I'd like to refer you to a support group, and I will call you on Friday to check in."),
        (C, "Yes, that works."),
        (C, "Sometimes I think everyone would be better off without me."),
    ]
    lines = lines_of(dialogue)
    summary = summarise(lines, (), detect_risks(lines))
    assert_reads_as_english(summary)
    assert "suicidal ideation" in summary.lower() and len(named_topics(summary)) <= 3
