"""A long transcript is laid out a batch of rows at a time, so showing it never holds the window; scrolling that
needs rows not laid out yet happens as soon as they are."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tbdesktop.ui.transcript import LAYOUT_BATCH, Line, TranscriptView

WORDS = "so how have you been feeling since we last talked about the situation at work and at home".split()
ROWS = LAYOUT_BATCH * 12


def lines(count: int) -> list[Line]:
    return [
        Line(
            idx=i,
            start_s=i * 4.0,
            end_s=i * 4.0 + 3.5,
            speaker=f"SPEAKER_0{i % 2}",
            stamp=f"{i * 4 // 60:02d}:{i * 4 % 60:02d}",
            label="Therapist" if i % 2 else "Client",
            sublabel=f"Speaker {1 + i % 2}",
            colours=("#1d4ed8", "#dbeafe"),
            text=" ".join(WORDS[: 4 + (i * 7) % 14] * (1 + i % 3)),
        )
        for i in range(count)
    ]


def shown(view: TranscriptView, idx: int) -> bool:
    rect = view.item_rect(idx)
    return rect.isValid() and view.list.viewport().rect().contains(rect.center())


def test_long_transcript_is_laid_out_in_batches(qtbot: QtBot, styled_app: QApplication) -> None:
    view = TranscriptView()
    qtbot.addWidget(view)
    view.resize(700, 480)
    view.show()
    qtbot.waitExposed(view)

    view.set_lines(lines(ROWS), [])
    assert view.item_rect(0).isValid()  # the first batch is there at once
    assert not view.item_rect(ROWS - 1).isValid()  # the rest comes as the window's loop turns
    qtbot.waitUntil(lambda: view.item_rect(ROWS - 1).isValid())
    assert len(view.lines()) == ROWS


def test_scroll_position_survives_a_rebuild(qtbot: QtBot, styled_app: QApplication) -> None:
    view = TranscriptView()
    qtbot.addWidget(view)
    view.resize(700, 480)
    view.show()
    qtbot.waitExposed(view)
    rows = lines(ROWS)
    view.set_lines(rows, [])
    bar = view.list.verticalScrollBar()
    qtbot.waitUntil(lambda: view.item_rect(ROWS - 1).isValid())
    far = bar.maximum() * 3 // 4
    bar.setValue(far)

    view.set_lines(rows, [])  # e.g. after a line was corrected
    qtbot.waitUntil(lambda: bar.value() == far)
    assert view.item_rect(ROWS - 1).isValid()


def test_evidence_far_down_is_brought_into_view(qtbot: QtBot, styled_app: QApplication) -> None:
    view = TranscriptView()
    qtbot.addWidget(view)
    view.resize(700, 480)
    view.show()
    qtbot.waitExposed(view)
    view.set_lines(lines(ROWS), [])

    far = ROWS - 3
    view.set_evidence({far})  # asked for before its row is laid out
    qtbot.waitUntil(lambda: shown(view, far))
    assert view.evidence == {far}

    view.set_current(5)  # the player moves back near the top: followed as well
    qtbot.waitUntil(lambda: shown(view, 5))


def test_a_scroll_by_the_reader_wins_over_a_pending_one(qtbot: QtBot, styled_app: QApplication) -> None:
    view = TranscriptView()
    qtbot.addWidget(view)
    view.resize(700, 480)
    view.show()
    qtbot.waitExposed(view)
    view.set_lines(lines(ROWS), [])
    view.set_evidence({ROWS - 1})
    bar: Any = view.list.verticalScrollBar()
    bar.triggerAction(bar.SliderAction.SliderSingleStepAdd)  # the reader scrolls meanwhile
    qtbot.waitUntil(lambda: view.item_rect(ROWS - 1).isValid())
    assert not shown(view, ROWS - 1)
