"""The clinic policy over the settings: every source (default, settings file, environment, command line, policy),
locks that nothing can loosen, the policy file that is in force, and files that are not valid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tbdesktop import policy as policy_module
from tbdesktop.config import SettingSource, load_settings, mask_url, settings_provenance
from tbdesktop.policy import NO_POLICY, PolicyError, load_effective_policy, load_policy, policy_file

POLICY = {
    "clinic_server": {"url": "postgresql://db.clinic.lan:5432/tb", "ca_file": "/etc/TherapyBridge/ca.pem"},
    "model_dir": "/srv/tb-models",
    "allowed_backends": {"transcription": ["local"], "notes": ["local", "openai"]},
    "allowed_servers": ["https://llm.clinic.lan"],
    "min_retention_days": {"recordings": 30, "transcripts": 90},
    "idle_lock_max_minutes": 15,
    "consent_required": True,
    "settings": {"asr_model": "small", "workers": 2},
}


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "config"


@pytest.fixture
def policy_path(tmp_path: Path) -> Path:
    return write(tmp_path / "etc" / "policy.json", POLICY)


def by_name(sources: list[SettingSource]) -> dict[str, SettingSource]:
    return {s.name: s for s in sources}


def test_every_source_is_named(tmp_path: Path, config_dir: Path, policy_path: Path) -> None:
    write(config_dir / "settings.json", {"asr_device": "cpu", "asr_model": "tiny", "notes_threads": 3})
    env = {"TB_ASR_LANGUAGE": "en", "TB_ASR_MODEL": "medium", "TB_NOTES_THREADS": "4"}
    settings, sources = settings_provenance(
        config_dir=config_dir, env=env, data_dir=tmp_path / "arg", machine_file=policy_path
    )
    s = by_name(sources)
    assert s["secret_store"].source == "default" and s["secret_store"].notes == ()
    assert (s["asr_device"].value, s["asr_device"].source) == ("cpu", f"settings file {config_dir / 'settings.json'}")
    assert (s["asr_language"].value, s["asr_language"].source) == ("en", "environment TB_ASR_LANGUAGE")
    assert (s["notes_threads"].value, s["notes_threads"].source) == (4, "environment TB_NOTES_THREADS")
    assert (s["data_dir"].value, s["data_dir"].source) == (tmp_path / "arg", "command line")
    # the policy wins over the file and the environment, and says what it overrode
    assert (s["asr_model"].value, s["asr_model"].source) == ("small", f"clinic policy {policy_path}")
    assert s["asr_model"].notes == (
        "the settings file's asr_model=tiny ignored: the clinic policy sets it",
        "TB_ASR_MODEL=medium ignored: the clinic policy sets it",
    )
    assert (s["workers"].value, s["model_dir"].value) == (2, Path("/srv/tb-models"))
    assert s["model_dir"].source == f"clinic policy {policy_path}"
    assert settings.asr_model == "small" and settings.workers == 2 and settings.model_dir == Path("/srv/tb-models")
    assert settings.policy.source == policy_path and settings.policy.consent_required is True
    assert [x.name for x in sources] == [x for x in s]  # every setting, in order
    assert "policy" not in s


def test_without_a_policy_everything_is_the_users(config_dir: Path, tmp_path: Path) -> None:
    settings, sources = settings_provenance(
        config_dir=config_dir, env={"TB_ASR_BACKEND": "openai"}, machine_file=tmp_path / "none.json"
    )
    assert settings.policy is NO_POLICY and not settings.policy.active
    assert settings.asr_backend == "openai"
    assert {x.source for x in sources} == {"default", "environment TB_ASR_BACKEND"}


def test_the_command_line_cannot_loosen_a_lock(tmp_path: Path, config_dir: Path) -> None:
    machine = write(tmp_path / "machine.json", {"settings": {"cache_dir": str(tmp_path / "it-cache")}})
    _, sources = settings_provenance(
        config_dir=config_dir, env={"TB_CACHE_DIR": str(tmp_path / "mine")}, machine_file=machine
    )
    s = by_name(sources)["cache_dir"]
    assert s.value == tmp_path / "it-cache" and s.source == f"clinic policy {machine}"
    assert s.notes == (f"TB_CACHE_DIR={tmp_path / 'mine'} ignored: the clinic policy sets it",)


def test_a_policy_cannot_move_a_users_data(tmp_path: Path, config_dir: Path) -> None:
    for name in ("data_dir", "secrets_dir", "policy", "no_such_setting"):
        machine = write(tmp_path / f"{name}.json", {"settings": {name: "/somewhere"}})
        with pytest.raises(PolicyError) as err:
            load_settings(config_dir=config_dir, env={}, machine_file=machine)
        assert f'"settings.{name}" is not a setting a policy can set' in err.value.message
        assert str(machine) in err.value.message


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"workers": "2"}, '"settings.workers" must be a whole number, not "2"'),
        ({"workers": True}, '"settings.workers" must be a whole number, not true'),
        ({"asr_model": 3}, '"settings.asr_model" must be a text, not 3'),
        ({"max_duration_min": "long"}, '"settings.max_duration_min" must be a number'),
        ({"cache_dir": "relative/cache"}, '"settings.cache_dir" must be an absolute path'),
        ({"asr_backend": "cloud"}, '"settings.asr_backend" must be one of local, openai'),
    ],
)
def test_a_setting_of_the_wrong_type_is_refused(
    tmp_path: Path, config_dir: Path, settings: dict[str, Any], expected: str
) -> None:
    machine = write(tmp_path / "machine.json", {"settings": settings})
    with pytest.raises(PolicyError) as err:
        load_settings(config_dir=config_dir, env={}, machine_file=machine)
    assert expected in err.value.message and f"The clinic policy file {machine} is not valid" in err.value.message


def test_a_locked_backend_the_policy_forbids_is_a_mistake(tmp_path: Path, config_dir: Path) -> None:
    machine = write(
        tmp_path / "machine.json",
        {"allowed_backends": {"transcription": ["local"]}, "settings": {"asr_backend": "openai"}},
    )
    with pytest.raises(PolicyError, match="allowed_backends.transcription"):
        load_settings(config_dir=config_dir, env={}, machine_file=machine)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "it must be a JSON object"),
        (json.dumps({"idle_lock_minutes": 5}), "unknown setting 'idle_lock_minutes'"),
        (json.dumps({"idle_lock_max_minutes": "15"}), '"idle_lock_max_minutes" must be a whole number'),
        (json.dumps({"idle_lock_max_minutes": 0}), '"idle_lock_max_minutes" must be a whole number from 1'),
        (json.dumps({"consent_required": "yes"}), '"consent_required" must be true or false'),
        (json.dumps({"allowed_backends": {"transcription": ["cloud"]}}), "unknown backend cloud"),
        (json.dumps({"allowed_servers": ["ftp://x"]}), "is not an http:// or https:// address"),
        (json.dumps({"min_retention_days": {"recordings": -1}}), "min_retention_days.recordings"),
        (json.dumps({"clinic_server": {"url": "mysql://x/y"}}), '"clinic_server.url" must be a postgresql://'),
        (json.dumps({"model_dir": "models"}), '"model_dir" must be an absolute path'),
        (
            json.dumps({"allowed_backends": {"notes": ["openai"]}, "allowed_servers": []}),
            'allows openai only, and "allowed_servers" allows no server',
        ),
    ],
)
def test_an_invalid_policy_file_stops_with_its_name_and_mistake(
    tmp_path: Path, config_dir: Path, content: str, expected: str
) -> None:
    machine = write(tmp_path / "machine.json", content)
    with pytest.raises(PolicyError) as err:
        load_settings(config_dir=config_dir, env={}, machine_file=machine)
    assert expected in err.value.message and str(machine) in err.value.message


def test_an_unreadable_policy_file_is_not_skipped(tmp_path: Path, config_dir: Path) -> None:
    folder = tmp_path / "policy.json"
    folder.mkdir()  # exists, cannot be read as a file
    with pytest.raises(PolicyError, match="cannot be read"):
        load_settings(config_dir=config_dir, env={}, machine_file=folder)


def test_tb_policy_file_applies_only_where_the_machine_has_none(
    tmp_path: Path, config_dir: Path, no_machine_policy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = write(tmp_path / "mine.json", {"settings": {"asr_model": "tiny"}})
    env = {"TB_POLICY_FILE": str(mine)}
    assert policy_file(env, tmp_path / "absent.json") == mine
    assert load_settings(config_dir=config_dir, env=env).asr_model == "tiny"  # the default machine file: absent
    machine = write(tmp_path / "machine" / "policy.json", {"settings": {"asr_model": "small"}})
    monkeypatch.setattr(policy_module, "machine_policy_file", lambda: machine)
    assert policy_file(env) == machine
    settings = load_settings(config_dir=config_dir, env=env)
    assert settings.asr_model == "small" and settings.policy.source == machine
    # a broken TB_POLICY_FILE does not matter where the machine has its own
    write(mine, "{broken")
    assert load_effective_policy(env).source == machine


def test_a_forbidden_backend_falls_back_to_local(tmp_path: Path, config_dir: Path, policy_path: Path) -> None:
    env = {
        "TB_ASR_BACKEND": "openai",
        "TB_OPENAI_BASE_URL": "https://llm.clinic.lan/v1",
        "TB_NOTES_BACKEND": "openai",
        "TB_NOTES_BASE_URL": "https://api.example.com/v1",
        "TB_NOTES_MODEL": "gpt",
    }
    settings, sources = settings_provenance(config_dir=config_dir, env=env, machine_file=policy_path)
    s = by_name(sources)
    assert settings.asr_backend == "local" and settings.notes_backend == "local"
    assert s["asr_backend"].notes == ("TB_ASR_BACKEND=openai ignored: the clinic policy allows local only",)
    assert s["notes_backend"].notes == (
        "TB_NOTES_BACKEND=openai ignored: the clinic policy allows https://llm.clinic.lan only as a server",
    )
    # an allowed server is kept (same origin; the path does not matter)
    env["TB_NOTES_BASE_URL"] = "https://LLM.clinic.lan:443/v1"
    assert load_settings(config_dir=config_dir, env=env, machine_file=policy_path).notes_backend == "openai"


def test_no_allowed_backend_left_is_explained(tmp_path: Path, config_dir: Path) -> None:
    machine = write(
        tmp_path / "machine.json",
        {"allowed_backends": {"transcription": ["openai"]}, "allowed_servers": ["https://asr.clinic.lan"]},
    )
    with pytest.raises(PolicyError, match="transcription with openai only"):
        load_settings(config_dir=config_dir, env={"TB_OPENAI_BASE_URL": "https://x.example"}, machine_file=machine)
    env = {"TB_OPENAI_BASE_URL": "https://asr.clinic.lan/v1"}
    assert load_settings(config_dir=config_dir, env=env, machine_file=machine).asr_backend == "openai"


def test_database_passwords_are_masked() -> None:
    assert mask_url("postgresql://tb:s3cret@db/tb") == "postgresql://tb:***@db/tb"
    assert mask_url("postgresql://db/tb") == "postgresql://db/tb"
    shown = SettingSource("database_url", "postgresql://tb:s3cret@db/tb", "environment TB_DATABASE_URL")
    assert "s3cret" not in shown.shown_value and "s3cret" not in json.dumps(shown.to_json())


def test_the_policy_model(policy_path: Path) -> None:
    p = load_policy(policy_path)
    assert p.allows_backend("transcription", "local") and not p.allows_backend("transcription", "openai")
    assert p.allows_backend("notes", "openai") and p.allows_server("https://llm.clinic.lan/v1")
    assert not p.allows_server("http://llm.clinic.lan") and not p.allows_server("https://other.lan")
    assert p.idle_lock_minutes(0) == 15 and p.idle_lock_minutes(60) == 15 and p.idle_lock_minutes(5) == 5
    assert p.retention_days("recordings", 0) == 30 and p.retention_days("recordings", None) is None
    assert p.retention_days("transcripts", 365) == 365 and p.requires_consent(False)
    assert not NO_POLICY.requires_consent(False) and NO_POLICY.idle_lock_minutes(0) == 0


def test_a_database_on_another_server_than_the_clinics_is_refused(tmp_path: Path, config_dir: Path) -> None:
    machine = write(tmp_path / "machine.json", {"clinic_server": "postgresql://db.clinic.lan/tb"})
    env = {"TB_DATABASE_URL": "postgresql+psycopg://tb:s3cret@db.elsewhere.example/tb"}
    with pytest.raises(PolicyError, match="environment TB_DATABASE_URL\\) names another server") as caught:
        load_settings(config_dir=config_dir, env=env, machine_file=machine)
    assert "s3cret" not in caught.value.message
    # the clinic's own server (another spelling of it) is fine, and so is the local database
    same = {"TB_DATABASE_URL": "postgresql+psycopg://tb@DB.clinic.lan:5432/tb"}
    assert load_settings(config_dir=config_dir, env=same, machine_file=machine).database_url.endswith("5432/tb")
    assert load_settings(config_dir=config_dir, env={}, machine_file=machine).database_url == ""
