"""Progress notes end to end: written by the worker process as the generating_notes stage and again on request,
versioned, editable while draft, signed, with addenda and risk flags — from the services and the CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests_support import run_until_idle, session_with_transcript

from tbdesktop.errors import NotFoundError, ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import ProgressEvent
from tbdesktop.services.notes import NoteService, stored_sections
from tbdesktop.services.processing import ProcessingRunner
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.sessions import ImportRequest, SessionService
from tbdesktop.store.models import TherapySession
from tbdesktop.store.note_repositories import SystemNoteWriter

CRISIS = [
    ("therapist", "How have things been since we last met?"),
    ("client", "Honestly really bad. I have not been sleeping and I stopped going to work."),
    ("therapist", "Have you had any thoughts of killing yourself?"),
    ("client", "Yes. I have been thinking about ending my life and I have a plan to take the pills tonight."),
    ("therapist", "Thank you for telling me. Let's make a safety plan together right now."),
    ("client", "Okay. I can call my sister and stay with her."),
    ("therapist", "Next week we will meet on Monday and you will call the crisis line if the thoughts come back."),
]
DENIAL = [
    ("therapist", "How has your week been?"),
    ("client", "Busy at work, but I have been sleeping better since I started the breathing exercise."),
    ("therapist", "Have you had any thoughts of hurting yourself?"),
    ("client", "No, I have no thoughts of hurting myself."),
    ("therapist", "For homework, practise the breathing exercise every night before bed."),
]


@pytest.mark.slow
def test_notes_are_written_with_processing_and_regenerated(
    ctx: AppContext, therapist: Any, two_speaker: Any, model_cache: Any
) -> None:
    service = SessionService(ctx, therapist)
    notes = NoteService(ctx, therapist)
    info = service.import_recording_sync(
        ImportRequest(source=two_speaker[0], client_name="Alex", consent_method="verbal")
    )
    runner = ProcessingRunner(ctx, owner_ids=[therapist.id])
    events: list[ProgressEvent] = []
    runner.add_listener(events.append)
    assert run_until_idle(runner) == 1

    done = service.get_sync(info.id)
    assert done.status == "completed", done.error
    assert done.ai_summary and len(done.ai_summary) <= 240
    statuses = [e.status for e in events]
    assert statuses.index("transcribing") < statuses.index("generating_notes") < len(statuses) - 1
    assert statuses[-1] == "completed"
    first = notes.get_sync(info.id)
    assert (first.version, first.template_name, first.status, first.generator) == (1, "SOAP", "draft", "local")
    assert [s.key for s in first.sections] == ["subjective", "objective", "assessment", "plan"]
    segments = {s.idx: s.text for s in service.transcript_sync(info.id)}
    cited = [i for section in first.sections for sentence in section.sentences for i in sentence.evidence]
    assert cited and all(i in segments for i in cited)

    job_id = notes.regenerate_sync(info.id, "DAP")
    assert job_id
    assert service.status_sync(info.id).status == "queued"
    events.clear()
    runner = ProcessingRunner(ctx, owner_ids=[therapist.id])
    runner.add_listener(events.append)
    assert run_until_idle(runner) == 1
    second = notes.get_sync(info.id)
    assert (second.version, second.template_name, second.versions) == (2, "DAP", [1, 2])
    assert [s.key for s in second.sections] == ["data", "assessment", "plan"]
    assert notes.get_sync(info.id, 1).template_name == "SOAP"  # the earlier version is kept
    assert [e.status for e in events][-1] == "completed"
    assert any(e.status == "generating_notes" for e in events)
    assert service.get_sync(info.id).status == "completed"


@pytest.mark.slow
def test_risk_flags_and_summary_from_the_transcript(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    crisis = session_with_transcript(ctx, therapist, two_speaker[0], CRISIS)
    calm = session_with_transcript(ctx, therapist, two_speaker[0], DENIAL)
    notes = NoteService(ctx, therapist)
    notes.regenerate_sync(crisis.id, "Progress note")
    notes.regenerate_sync(calm.id)
    assert run_until_idle(ProcessingRunner(ctx, owner_ids=[therapist.id])) == 2

    flags = notes.risk_flags_sync(crisis.id)
    suicidal = [f for f in flags if f.kind == "suicidal_ideation"]
    assert suicidal and suicidal[0].severity == "high" and suicidal[0].segment_idx == 3
    assert "plan" in suicidal[0].quote and suicidal[0].quote.lower() in CRISIS[3][1].lower()
    note = notes.get_sync(crisis.id)
    risk = next(s for s in note.sections if s.key == "risk")
    assert 3 in risk.evidence
    summary = SessionService(ctx, therapist).get_sync(crisis.id).ai_summary
    assert summary and "suicidal" in summary.lower()

    calm_flags = notes.risk_flags_sync(calm.id)
    assert calm_flags and all(f.severity == "denied" for f in calm_flags)
    assert calm_flags[0].segment_idx == 3


def test_edit_sign_and_addendum(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    from tbdesktop.engine.notes import NoteTemplateSpec, TranscriptLine
    from tbdesktop.engine.notes.local import LocalNoteGenerator
    from tbdesktop.services.templates import TemplateService

    info = session_with_transcript(ctx, therapist, two_speaker[0], DENIAL)
    soap = TemplateService(ctx, therapist).get_sync("SOAP")
    lines = [TranscriptLine(i, i * 5.0, i * 5.0 + 4.5, "S", role, text) for i, (role, text) in enumerate(DENIAL)]
    generated = LocalNoteGenerator().generate(lines, NoteTemplateSpec.from_content("SOAP", soap.content()))
    with ctx.db.unit_of_work() as s:
        SystemNoteWriter(s).add_version(info.id, soap.id, stored_sections(generated.to_dict()), generated.generator)

    notes = NoteService(ctx, therapist)
    edited = notes.update_section_sync(info.id, "objective", "Client was calm and engaged.")
    objective = next(x for x in edited.sections if x.key == "objective")
    assert objective.text == "Client was calm and engaged." and objective.edited
    with pytest.raises(ValidationError, match="still a draft"):
        notes.add_addendum_sync(info.id, "Too early.")
    signed = notes.sign_sync(info.id)
    assert signed.status == "signed" and signed.signed_at is not None
    with pytest.raises(ValidationError, match="signed"):
        notes.update_section_sync(info.id, "plan", "Changed after signing.")
    with pytest.raises(ValidationError, match="already signed"):
        notes.sign_sync(info.id)
    after = notes.add_addendum_sync(info.id, "Client phoned on Tuesday to confirm the next appointment.")
    assert [a.text for a in after.addenda] == ["Client phoned on Tuesday to confirm the next appointment."]
    assert after.addenda[0].created_at >= signed.signed_at
    assert next(x for x in after.sections if x.key == "objective").text == "Client was calm and engaged."

    other = ProfileService(ctx).create_profile_sync("Sam Okafor", "sam@example.org")
    with pytest.raises(NotFoundError):
        NoteService(ctx, other).get_sync(info.id)
    with pytest.raises(NotFoundError):
        NoteService(ctx, other).regenerate_sync(info.id)


def test_regenerate_refuses_without_a_transcript(ctx: AppContext, therapist: Any, two_speaker: Any) -> None:
    notes = NoteService(ctx, therapist)
    fresh = SessionService(ctx, therapist).import_recording_sync(
        ImportRequest(allow_duplicate=True, source=two_speaker[0], consent_method="verbal")
    )
    with pytest.raises(ValidationError, match="still being processed"):
        notes.regenerate_sync(fresh.id)
    info = session_with_transcript(ctx, therapist, two_speaker[0], DENIAL)
    with ctx.db.unit_of_work() as s:
        row = s.get(TherapySession, info.id)
        assert row is not None
        row.delete_transcript()
    with pytest.raises(ValidationError, match="transcript of this session was deleted"):
        notes.regenerate_sync(info.id)
    with pytest.raises(NotFoundError, match="template"):
        notes.regenerate_sync(fresh.id, "No such template")


@pytest.mark.slow
def test_notes_server_failure_keeps_the_transcript(make_settings: Any, two_speaker: Any) -> None:
    """With an unreachable note server the session still completes with its transcript and says why."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here
    settings = make_settings(notes_backend="openai", notes_base_url=f"http://127.0.0.1:{port}/v1", notes_model="m")
    ctx = AppContext.open(settings)
    try:
        user = ProfileService(ctx).create_profile_sync("Dana Reyes")
        info = session_with_transcript(ctx, user, two_speaker[0], DENIAL)
        NoteService(ctx, user).regenerate_sync(info.id)
        run_until_idle(ProcessingRunner(ctx, owner_ids=[user.id]))
        after = SessionService(ctx, user).get_sync(info.id)
        assert after.status == "completed"
        assert after.error and "Traceback" not in after.error
        assert len(SessionService(ctx, user).transcript_sync(info.id)) == len(DENIAL)
        assert NoteService(ctx, user).latest_or_none_sync(info.id) is None
    finally:
        ctx.close()


@pytest.mark.slow
def test_cli_notes_regenerate_and_show(ctx: AppContext, therapist: Any, two_speaker: Any, capsys: Any) -> None:
    from tbdesktop import cli

    info = session_with_transcript(ctx, therapist, two_speaker[0], CRISIS)
    data_dir = str(ctx.settings.data_dir)
    assert cli.main(["session", "notes", str(info.id), "--data-dir", data_dir]) == 1
    assert "no note yet" in capsys.readouterr().err
    args = ["session", "regenerate-notes", str(info.id), "--template", "BIRP", "--wait", "--data-dir", data_dir]
    assert cli.main([*args, "--json"]) == 0
    note = json.loads(capsys.readouterr().out)
    assert note["template_name"] == "BIRP" and note["version"] == 1
    assert [s["key"] for s in note["sections"]] == ["behavior", "intervention", "response", "plan"]
    assert cli.main(["session", "notes", str(info.id), "--data-dir", data_dir]) == 0
    text = capsys.readouterr().out
    assert "BEHAVIOR" in text and "Draft from transcript quotes" in text and "[lines" in text
    assert cli.main(["session", "show", str(info.id), "--json", "--data-dir", data_dir]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["ai_summary"]
    assert any(f["kind"] == "suicidal_ideation" and f["segment_idx"] == 3 and f["quote"] for f in shown["risk_flags"])
    assert cli.main(["session", "sign-note", str(info.id), "--data-dir", data_dir]) == 0
    assert cli.main(["session", "edit-note", str(info.id), "plan", "New plan", "--data-dir", data_dir]) == 1
    assert "signed" in capsys.readouterr().err
    assert cli.main(["session", "addendum", str(info.id), "Called client.", "--data-dir", data_dir]) == 0
    assert "ADDENDUM" in capsys.readouterr().out


def test_openai_notes_through_the_worker(make_settings: Any, two_speaker: Any) -> None:
    """The openai backend end to end: key from the keyring, the worker process calls a local chat server."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[dict[str, Any]] = []

    class Chat(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            schema = body["response_format"]["json_schema"]["schema"]
            note: dict[str, Any] = {}
            for key in schema["properties"]:
                if key == "summary":
                    note[key] = "Client reported better sleep with the breathing exercise."
                elif key == "risk_flags":
                    note[key] = [
                        {
                            "kind": "self_harm",
                            "severity": "denied",
                            "quote": "no thoughts of hurting myself",
                            "segment_idx": 3,
                        },
                        {"kind": "substance_use", "severity": "high", "quote": "drinks every night", "segment_idx": 1},
                    ]
                else:
                    note[key] = {
                        "sentences": [
                            {"text": "Client sleeps better since starting the breathing exercise.", "evidence": [1]},
                            {"text": "An invented claim.", "evidence": [42]},
                        ]
                    }
            reply = {
                "id": "c1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": json.dumps(note)}}
                ],
            }
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Chat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    ctx = AppContext.open(make_settings(notes_backend="openai", notes_base_url=url, notes_model="clinic-notes"))
    try:
        ctx.secrets.set("notes_api_key", "sk-clinic-123")
        user = ProfileService(ctx).create_profile_sync("Dana Reyes")
        info = session_with_transcript(ctx, user, two_speaker[0], DENIAL)
        NoteService(ctx, user).regenerate_sync(info.id, "SOAP")
        assert run_until_idle(ProcessingRunner(ctx, owner_ids=[user.id])) == 1
        note = NoteService(ctx, user).get_sync(info.id)
        flags = NoteService(ctx, user).risk_flags_sync(info.id)
        summary = SessionService(ctx, user).get_sync(info.id).ai_summary
    finally:
        ctx.close()
        server.shutdown()
    assert seen and seen[0]["path"] == "/v1/chat/completions" and seen[0]["auth"] == "Bearer sk-clinic-123"
    assert seen[0]["body"]["model"] == "clinic-notes"
    assert "no thoughts of hurting myself" in json.dumps(seen[0]["body"]["messages"])
    assert note.generator == "openai:clinic-notes" and not note.is_local_draft
    for section in note.sections:  # the sentence citing line 42 (there is none) was dropped
        written = [s.evidence for s in section.sentences if not s.text.startswith("Self-harm")]
        assert written == [[1]]
    # the denial of self-harm is documented in the assessment, cited
    assessment = next(s for s in note.sections if s.key == "assessment")
    denial = [s.evidence for s in assessment.sentences if s.text.startswith("Self-harm (denied)")]
    assert denial and all(3 in e for e in denial)  # the answer, after the question it answers
    assert note.removed_statements == len(note.sections)
    assert f"{len(note.sections)} statements removed: not supported by the transcript." in note.warnings
    # the flag whose quote is not in its line is dropped; the denial said in line 3 stays
    assert [(f.kind, f.severity, f.segment_idx) for f in flags] == [("self_harm", "denied", 3)]
    assert summary == "Client reported better sleep with the breathing exercise."
