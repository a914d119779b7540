"""Note templates: built-ins seeded read-only, validation, and who may change what — on both databases."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tbdesktop.errors import NotFoundError, PermissionDeniedError, ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.templates import TemplateService
from tbdesktop.store.builtin_templates import load_builtins

BUILTIN_NAMES = {"SOAP", "DAP", "BIRP", "GIRP", "PIRP", "Intake assessment", "Progress note"}


def _content(*keys: str) -> dict[str, Any]:
    return {
        "sections": [
            {"key": k, "title": k.replace("_", " ").title(), "instructions": f"What the session said about {k}."}
            for k in keys
        ]
    }


@pytest.fixture
def clinic(make_settings: Any, db_url: str) -> Any:
    ctx = AppContext.open(make_settings(db_url))
    profiles = ProfileService(ctx)
    dana = profiles.create_profile_sync("Dana Reyes", "dana@example.org")
    sam = profiles.create_profile_sync("Sam Okafor", "sam@example.org")
    manager = profiles.create_profile_sync("Pat Lee", "pat@example.org", role="practice_manager")
    yield ctx, TemplateService(ctx, dana), TemplateService(ctx, sam), TemplateService(ctx, manager)
    ctx.close()


def test_builtins_are_seeded_complete_and_read_only(clinic: Any) -> None:
    _, dana, _, manager = clinic
    templates = dana.list_sync()
    builtins = [t for t in templates if t.scope == "builtin"]
    assert {t.name for t in builtins} == BUILTIN_NAMES
    soap = next(t for t in builtins if t.name == "SOAP")
    assert [s.key for s in soap.sections] == ["subjective", "objective", "assessment", "plan"]
    assert all(len(s.instructions) > 40 for t in builtins for s in t.sections)
    assert soap.is_default and not soap.editable
    for service in (dana, manager):  # not even a practice manager changes a built-in
        with pytest.raises(PermissionDeniedError, match="built-in"):
            service.update_sync(soap.id, name="Mine")
        with pytest.raises(PermissionDeniedError, match="built-in"):
            service.delete_sync("SOAP")
    assert dana.get_sync("soap").name == "SOAP"  # by name, case-insensitive


def test_builtin_files_are_valid_templates() -> None:
    from tbdesktop.engine.notes import NoteTemplateSpec

    builtins = load_builtins()
    assert {b.name for b in builtins} == BUILTIN_NAMES
    assert sum(b.is_default for b in builtins) == 1
    for b in builtins:
        NoteTemplateSpec.from_content(b.name, b.content)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"sections": []}, "at least one section"),
        (_content(*[f"s{i}" for i in range(21)]), "at most 20"),
        (_content("plan", "plan"), "unique"),
        ({"sections": [{"key": "bad key!", "title": "T", "instructions": "I"}]}, "key of letters"),
        ({"sections": [{"key": "a", "title": "x" * 121, "instructions": "I"}]}, "title"),
        ({"sections": [{"key": "a", "title": "A", "instructions": ""}]}, "instructions"),
        ({"sections": [{"key": "a", "title": "A", "instructions": "I", "max_words": 0}]}, "max_words"),
        ({"sections": "plan"}, "at least one section"),
    ],
)
def test_validation(clinic: Any, content: Any, message: str) -> None:
    _, dana, _, _ = clinic
    with pytest.raises(ValidationError, match=message):
        dana.create_sync("Broken", content)
    assert all(t.name != "Broken" for t in dana.list_sync())


def test_own_templates_belong_to_their_author(clinic: Any) -> None:
    _, dana, sam, manager = clinic
    mine = dana.create_sync("Dana's EMDR note", _content("targets", "installation", "plan"))
    assert mine.scope == "mine" and mine.editable
    updated = dana.update_sync(mine.id, content=_content("targets", "plan"))
    assert [s.key for s in updated.sections] == ["targets", "plan"]
    for other in (sam, manager):  # another therapist — even a manager — neither sees nor changes it
        assert all(t.id != mine.id for t in other.list_sync())
        with pytest.raises(NotFoundError):
            other.get_sync(mine.id)
        with pytest.raises(NotFoundError):
            other.update_sync(mine.id, name="Taken")
        with pytest.raises(NotFoundError):
            other.delete_sync(mine.id)
    dana.delete_sync(mine.id)
    with pytest.raises(NotFoundError):
        dana.get_sync(mine.id)


def test_clinic_wide_templates_are_changed_by_practice_managers_only(clinic: Any) -> None:
    _, dana, sam, manager = clinic
    with pytest.raises(PermissionDeniedError, match="practice manager"):
        dana.create_sync("Clinic note", _content("focus"), clinic_wide=True)
    shared = manager.create_sync("Clinic note", _content("focus", "plan"), clinic_wide=True)
    assert shared.scope == "clinic" and shared.editable
    seen = sam.get_sync(shared.id)
    assert seen.scope == "clinic" and not seen.editable
    with pytest.raises(PermissionDeniedError, match="practice manager"):
        sam.update_sync(shared.id, name="Renamed")
    with pytest.raises(PermissionDeniedError, match="practice manager"):
        sam.delete_sync(shared.id)
    assert manager.update_sync(shared.id, name="Clinic progress note").name == "Clinic progress note"
    assert dana.get_sync(shared.id).name == "Clinic progress note"


def test_duplicate_a_builtin_and_make_it_my_default(clinic: Any) -> None:
    _, dana, sam, _ = clinic
    assert dana.default_sync().name == "SOAP"
    copy = dana.duplicate_sync("BIRP", "My BIRP")
    assert copy.scope == "mine" and copy.editable
    assert [s.key for s in copy.sections] == [s.key for s in dana.get_sync("BIRP").sections]
    risk = {"key": "risk", "title": "Risk", "instructions": "Risk."}
    edited = dana.update_sync(copy.id, content={"sections": [*copy.content()["sections"], risk]})
    assert edited.sections[-1].key == "risk"
    assert len(dana.get_sync("BIRP").sections) == 4  # the built-in is untouched
    dana.set_default_sync(copy.id)
    assert dana.default_sync().id == copy.id
    assert [t.name for t in dana.list_sync() if t.is_default] == ["My BIRP"]
    assert sam.default_sync().name == "SOAP"  # my default is mine alone
    dana.delete_sync(copy.id)
    assert dana.default_sync().name == "SOAP"


def test_cli_template_commands(ctx: AppContext, tmp_path: Any, capsys: Any, monkeypatch: Any) -> None:
    from tbdesktop import cli

    ProfileService(ctx).create_profile_sync("Dana Reyes", "dana@example.org")
    data_dir = str(ctx.settings.data_dir)
    monkeypatch.setenv("TB_USER", "dana@example.org")
    path = tmp_path / "couples.json"
    path.write_text(json.dumps({"name": "Couples note", **_content("dynamics", "plan")}), encoding="utf-8")

    assert cli.main(["template", "add", str(path), "--data-dir", data_dir, "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["name"] == "Couples note" and added["scope"] == "mine"
    path.write_text(json.dumps({"name": "Couples note", **_content("dynamics", "goals", "plan")}), encoding="utf-8")
    assert cli.main(["template", "update", added["id"], str(path), "--data-dir", data_dir]) == 0
    capsys.readouterr()
    assert cli.main(["template", "list", "--data-dir", data_dir, "--json"]) == 0
    listed = {t["name"]: t for t in json.loads(capsys.readouterr().out)}
    assert BUILTIN_NAMES <= set(listed) and len(listed["Couples note"]["sections"]) == 3
    assert cli.main(["template", "delete", "SOAP", "--data-dir", data_dir]) == 1
    assert "built-in" in capsys.readouterr().err
    path.write_text(json.dumps({"name": "Bad", "sections": []}), encoding="utf-8")
    assert cli.main(["template", "add", str(path), "--data-dir", data_dir]) == 1
    assert "at least one section" in capsys.readouterr().err
    assert cli.main(["template", "delete", added["id"], "--data-dir", data_dir]) == 0


def test_builtins_are_restored_at_start(make_settings: Any) -> None:
    """A built-in changed in the database (by hand, or by an older release) is put back at the next start."""
    from tbdesktop.store.builtin_templates import builtin_id
    from tbdesktop.store.models import NoteTemplate

    settings = make_settings()
    ctx = AppContext.open(settings)
    with ctx.db.unit_of_work() as s:
        row = s.get(NoteTemplate, builtin_id("soap"))
        assert row is not None
        row.template_content = {"sections": [{"key": "x", "title": "X", "instructions": "Tampered."}]}
        row.name = "Tampered"
    ctx.close()
    ctx = AppContext.open(settings)
    try:
        user = ProfileService(ctx).create_profile_sync("Dana Reyes")
        soap = TemplateService(ctx, user).get_sync(builtin_id("soap"))
        assert soap.name == "SOAP" and [s.key for s in soap.sections][0] == "subjective"
    finally:
        ctx.close()
