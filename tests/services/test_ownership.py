"""Every service method that takes a session or a template refuses another user's as not found.

The methods are found by introspection, so a method added later is covered without editing this test."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from tests_support import session_with_transcript

from tbdesktop.errors import NotFoundError
from tbdesktop.services.context import AppContext
from tbdesktop.services.notes import NoteService
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.sessions import SessionService
from tbdesktop.services.templates import TemplateService

PLAUSIBLE: dict[str, Any] = {
    "idx": 0,
    "text": "x",
    "speaker": "SPEAKER_00",
    "role": "client",
    "anonymous": True,
    "key": "plan",
    "template": None,
    "version": None,
    "client_name": "Someone",
    "name": "Copy",
    "content": {"sections": [{"key": "a", "title": "A", "instructions": "B"}]},
    "at_word": 1,
    "source": "SPEAKER_01",
    "into": "SPEAKER_00",
    "voices": 2,
    "kind": "suicidal_ideation",
    "segment_idx": 0,
}


def _calls(service: Any, id_param: str) -> list[tuple[str, Any]]:
    out = []
    for name, method in inspect.getmembers(service, inspect.ismethod):
        if name.startswith("_") or not name.endswith("_sync"):
            continue
        params = inspect.signature(method).parameters
        if id_param in params:
            out.append((name, method))
    return out


def _call(method: Any, id_param: str, value: Any) -> None:
    kwargs: dict[str, Any] = {}
    for pname, param in inspect.signature(method).parameters.items():
        if pname == id_param:
            kwargs[pname] = value
        elif pname in PLAUSIBLE:
            kwargs[pname] = PLAUSIBLE[pname]
        elif param.default is inspect.Parameter.empty:
            raise AssertionError(f"add a plausible value for '{pname}' to PLAUSIBLE")
    method(**kwargs)


def test_sessions_and_notes_of_another_user_are_not_found(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    mine = session_with_transcript(ctx, therapist, two_speaker[0], [("therapist", "Hello."), ("client", "Hi.")])
    intruder = ProfileService(ctx).create_profile_sync("Sam Okafor", "sam@example.org")
    calls = [*_calls(SessionService(ctx, intruder), "session_id"), *_calls(NoteService(ctx, intruder), "session_id")]
    names = {n for n, _ in calls}
    assert {"get_sync", "delete_session_sync", "delete_recording_sync", "regenerate_sync", "sign_sync"} <= names
    assert {"open_recording_sync", "retry_sync", "cancel_sync"} <= names
    assert {"split_line_sync", "merge_speakers_sync", "add_speaker_sync", "rediarize_sync"} <= names
    assert "mark_flag_reviewed_sync" in names
    for name, method in calls:
        with pytest.raises(NotFoundError):
            _call(method, "session_id", mine.id)
        assert SessionService(ctx, therapist).get_sync(mine.id).client_name == "Jordan", name
    assert len(list(ctx.settings.recordings_dir.iterdir())) == 1


def test_templates_of_another_user_are_not_found(ctx: AppContext, therapist: Any) -> None:
    mine = TemplateService(ctx, therapist).create_sync("Mine", PLAUSIBLE["content"])
    intruder = ProfileService(ctx).create_profile_sync("Sam Okafor", "sam@example.org")
    calls = _calls(TemplateService(ctx, intruder), "ref")
    assert {"get_sync", "update_sync", "delete_sync", "duplicate_sync", "set_default_sync"} <= {n for n, _ in calls}
    for name, method in calls:
        with pytest.raises(NotFoundError):
            _call(method, "ref", mine.id)
        assert TemplateService(ctx, therapist).get_sync(mine.id).name == "Mine", name
