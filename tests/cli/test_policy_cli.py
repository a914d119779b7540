"""`tbdesktop policy show` and `policy check`, a broken policy file stopping every command, and `clinic join`
under a policy that names the clinic server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tbdesktop import cli
from tbdesktop import policy as policy_module

REPO_ROOT = Path(__file__).resolve().parents[2]
POLICY = {
    "clinic_server": {"url": "postgresql://it:hunter2@db.clinic.lan:5432/tb", "ca_file": "/etc/tb/ca.pem"},
    "model_dir": "/srv/tb-models",
    "allowed_backends": {"transcription": ["local"]},
    "allowed_servers": ["https://llm.clinic.lan"],
    "min_retention_days": {"recordings": 30},
    "idle_lock_max_minutes": 15,
    "consent_required": True,
    "settings": {"asr_model": "small"},
}


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the machine's policy file is looked for (absent until a test writes it); the user's config folder
    and environment are the test's own."""
    path = tmp_path / "etc" / "TherapyBridge" / "policy.json"
    monkeypatch.setattr(policy_module, "machine_policy_file", lambda: path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for key in ("TB_ASR_BACKEND", "TB_ASR_MODEL", "TB_DATABASE_URL", "TB_POLICY_FILE", "TB_MODEL_DIR"):
        monkeypatch.delenv(key, raising=False)
    return path


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_show_without_a_policy(machine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "policy", "show", "--data-dir", str(tmp_path / "data"))
    assert code == 0
    assert out.startswith(f"Clinic policy: none (IT puts it at {machine})")
    assert f"  data_dir = {tmp_path / 'data'}    [command line]" in out
    assert "  asr_backend = local    [default]" in out
    code, out, _ = run(capsys, "policy", "show", "--json")
    data = json.loads(out)
    assert code == 0 and data["policy_file"] is None and data["policy"] is None
    assert data["machine_policy_file"] == str(machine)


def test_show_names_every_source_and_the_constraints(
    machine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(machine, POLICY)
    write(tmp_path / "config" / "TherapyBridge" / "settings.json", {"asr_device": "cpu"})
    monkeypatch.setenv("TB_ASR_BACKEND", "openai")
    monkeypatch.setenv("TB_ASR_MODEL", "tiny")
    monkeypatch.setenv("TB_DATABASE_URL", "postgresql://tb:s3cret@db.clinic.lan:5432/tb")
    code, out, _ = run(capsys, "policy", "show", "--data-dir", str(tmp_path / "data"))
    assert code == 0
    assert out.startswith(f"Clinic policy: {machine}\n")
    for line in (
        "  clinic server:              postgresql://it:***@db.clinic.lan:5432/tb (CA file /etc/tb/ca.pem)",
        "  model folder:               /srv/tb-models",
        "  transcription backends:     local",
        "  notes backends:             any",
        "  servers (openai backends):  https://llm.clinic.lan",
        "  keep recordings:            at least 30 days",
        "  idle lock:                  at most 15 minutes",
        "  consent required:           yes, for every profile",
        f"  asr_backend = local    [clinic policy {machine}]",
        "      note: TB_ASR_BACKEND=openai ignored: the clinic policy allows local only",
        "      note: TB_ASR_MODEL=tiny ignored: the clinic policy sets it",
        f"  asr_device = cpu    [settings file {tmp_path / 'config' / 'TherapyBridge' / 'settings.json'}]",
        "  database_url = postgresql://tb:***@db.clinic.lan:5432/tb    [environment TB_DATABASE_URL]",
        f"  model_dir = /srv/tb-models    [clinic policy {machine}]",
    ):
        assert line in out.splitlines(), line
    assert "s3cret" not in out and "hunter2" not in out
    code, out, _ = run(capsys, "policy", "show", "--json")
    data = json.loads(out)
    settings = {s["name"]: s for s in data["settings"]}
    assert data["policy_file"] == str(machine) and data["policy"]["idle_lock_max_minutes"] == 15
    assert data["policy"]["clinic_server"]["url"] == "postgresql://it:***@db.clinic.lan:5432/tb"
    assert settings["asr_model"] == {
        "name": "asr_model",
        "value": "small",
        "source": f"clinic policy {machine}",
        "notes": ["TB_ASR_MODEL=tiny ignored: the clinic policy sets it"],
    }
    assert settings["database_url"]["value"] == "postgresql://tb:***@db.clinic.lan:5432/tb"
    assert "s3cret" not in out and "hunter2" not in out


def test_show_says_when_tb_policy_file_is_in_force(
    machine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    trial = write(tmp_path / "trial.json", {"idle_lock_max_minutes": 5})
    monkeypatch.setenv("TB_POLICY_FILE", str(trial))
    code, out, _ = run(capsys, "policy", "show")
    assert code == 0 and out.startswith(f"Clinic policy: {trial} (named by TB_POLICY_FILE)")
    write(machine, {"idle_lock_max_minutes": 10})
    code, out, _ = run(capsys, "policy", "show")
    assert out.startswith(f"Clinic policy: {machine}\n") and "at most 10 minutes" in out


def test_check_a_file_before_deploying_it(machine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path / "good.json", POLICY)
    code, out, _ = run(capsys, "policy", "check", str(good))
    assert code == 0 and out.startswith(f"The policy file {good} is valid.")
    assert "  idle lock:                  at most 15 minutes" in out
    code, out, _ = run(capsys, "policy", "check", str(good), "--json")
    data = json.loads(out)
    assert code == 0 and data["valid"] is True and data["policy"]["allowed_backends"]["transcription"] == ["local"]
    bad = write(tmp_path / "bad.json", {"settings": {"asr_modle": "small"}})
    code, out, err = run(capsys, "policy", "check", str(bad))
    assert code == 1 and out == ""
    assert err.startswith(f'error: The clinic policy file {bad} is not valid: "settings.asr_modle" is not a setting')
    code, out, _ = run(capsys, "policy", "check", str(bad), "--json")
    data = json.loads(out)
    assert code == 1 and data["valid"] is False and "asr_modle" in data["error"]
    code, _, err = run(capsys, "policy", "check", str(tmp_path / "missing.json"))
    assert code == 1 and "cannot be read" in err
    assert not machine.exists()  # checking never deploys


def test_a_broken_policy_stops_every_command(machine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(machine, '{"idle_lock_max_minutes": 15,}')
    data = ["--data-dir", str(tmp_path / "data")]
    for argv in (["session", "list", *data], ["policy", "show", *data], ["migrate", *data]):
        code, out, err = run(capsys, *argv)
        assert code == 1, argv
        assert err.startswith(f"error: The clinic policy file {machine} is not valid JSON"), argv
    assert not (tmp_path / "data").exists()  # nothing was opened


def test_clinic_join_under_the_policy(
    machine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TB_CLINIC_PASSWORD", "clinic-password")
    data = ["--data-dir", str(tmp_path / "data")]
    code, _, err = run(capsys, "clinic", "join", "--email", "dana@example.org", *data)
    assert code == 1 and "Enter the clinic server address" in err  # no policy: the address is needed
    write(machine, POLICY)
    code, _, err = run(
        capsys, "clinic", "join", "postgresql://other.example:5432/tb", "--email", "dana@example.org", *data
    )
    assert code == 1
    assert err.strip() == (
        "error: Your clinic's IT set the clinic server to postgresql://db.clinic.lan:5432/tb: this workstation "
        "joins that server only."
    )


def test_policy_show_in_a_process_of_its_own(tmp_path: Path) -> None:
    """The command as a process: its exit code and JSON (the machine path pointed at the test's folder)."""
    machine = write(tmp_path / "etc" / "policy.json", POLICY)
    program = (
        "import sys; from pathlib import Path; import tbdesktop.policy as p; "
        f"p.machine_policy_file = lambda: Path({str(machine)!r}); "
        "from tbdesktop.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO_ROOT),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "HOME": str(tmp_path / "home"),
        "TB_ASR_BACKEND": "openai",
    }
    result = subprocess.run(
        [sys.executable, "-c", program, "policy", "show", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    backend = next(s for s in data["settings"] if s["name"] == "asr_backend")
    assert backend["value"] == "local" and backend["source"] == f"clinic policy {machine}"
    bad = subprocess.run(
        [sys.executable, "-c", program, "policy", "check", str(write(tmp_path / "bad.json", "[]"))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 1 and "it must be a JSON object" in bad.stderr


def test_selftest_says_which_policy_is_in_force(
    machine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TB_SECRET_STORE", "file")
    monkeypatch.setenv("TB_SECRETS_DIR", str(tmp_path / "secrets"))
    code, out, _ = run(capsys, "selftest", "--json", "--data-dir", str(tmp_path / "data"))
    checks = {c["check"]: c for c in json.loads(out)["checks"]}
    assert checks["clinic policy"]["ok"] and checks["clinic policy"]["detail"] == f"none (IT would put it at {machine})"

    write(machine, dict(POLICY, settings={"asr_device": "cpu"}, model_dir=str(tmp_path / "packs")))
    code, out, _ = run(capsys, "selftest", "--json", "--data-dir", str(tmp_path / "data"))
    checks = {c["check"]: c for c in json.loads(out)["checks"]}
    detail = checks["clinic policy"]["detail"]
    assert detail.startswith(f"{machine}: 1 setting(s) locked, clinic server set, backends limited"), detail
    assert "idle lock at most 15 min" in detail and "consent required" in detail
    assert checks["model packs"]["detail"] == f"none registered in {tmp_path / 'packs'}"

    write(machine, "{not json")
    code, _, err = run(capsys, "selftest", "--data-dir", str(tmp_path / "data"))
    assert code != 0 and "is not valid JSON" in err
