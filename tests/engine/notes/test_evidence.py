"""The evidence check every written statement passes: overlap, numbers, names, dates, negation, risk words."""

from __future__ import annotations

import pytest

from tbdesktop.engine.notes.evidence import MIN_OVERLAP, check_support, supported

SLEEP = "Badly, maybe four hours a night since I lost my job."


@pytest.mark.parametrize(
    ("statement", "cited"),
    [
        ("The client reported sleeping about four hours a night since losing their job.", [SLEEP]),
        ("Client reports anxiety at work.", ["Work has been making me so anxious lately."]),
        ("The client denies a plan.", ["I have thought about it, but I do not have a plan."]),
        ("The client drinks twice a week.", ["I drink maybe two times a week."]),
        (
            "Stressful week with poor sleep; passive suicidal ideation discussed; breathing exercise planned.",
            [
                "Work has been stressful and I have slept badly.",
                "Sometimes I feel like I don't want to be here anymore.",
                "Let's try the breathing exercise daily.",
            ],
        ),
        ("The therapist proposed a safety plan and the client agreed.", ["Let's make a safety plan.", "Okay."]),
    ],
)
def test_faithful_paraphrases_are_supported(statement: str, cited: list[str]) -> None:
    result = check_support(statement, cited)
    assert result.ok, result.reason
    assert result.overlap >= MIN_OVERLAP


@pytest.mark.parametrize(
    ("statement", "cited", "reason"),
    [
        ("The client sleeps five hours a night.", [SLEEP], "number"),
        ("The client will see Dr Patel on Monday.", ["I will see my doctor next week."], "name or date"),
        ("The client reports sleeping well.", ["I am not sleeping well at all."], "negate"),
        ("The client has a plan.", ["I do not have a plan."], "negate"),
        ("The client denies drinking.", ["I had six beers on Saturday."], "negation"),
        ("The client is euthymic with a normal mental status.", ["I feel okay today."], "too little"),
        ("The client has nightmares about the accident.", [SLEEP], "too little"),
        (
            "The client has not been sleeping four hours a night and is thinking of ending their life.",
            ["Not great. I have not been sleeping, maybe four hours a night."],
            "risk",
        ),
        ("The client was hospitalised after an overdose.", ["I went to the hospital with my mother."], "risk"),
        ("Something.", [], "nothing"),
    ],
)
def test_invented_or_contradicted_statements_are_not(statement: str, cited: list[str], reason: str) -> None:
    result = check_support(statement, cited)
    assert not result.ok
    assert reason in result.reason
    assert not supported(statement, cited)


def test_only_the_cited_lines_count() -> None:
    other = ["I drink every night, a whole bottle of wine."]
    assert not supported("The client drinks a bottle of wine every night.", [SLEEP])
    assert supported("The client drinks a bottle of wine every night.", other)
