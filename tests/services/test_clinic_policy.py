"""A clinic policy naming the clinic server also holds for a profile that joined another server before the policy
arrived: nothing is sent there, sync says why and what to do, and the server named by the policy syncs as before.
A real PostgreSQL clinic (private cluster, SCRAM logins, row-level security)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from clinic_support import Clinic, add_session

from tbdesktop.config import load_settings
from tbdesktop.errors import TBError
from tbdesktop.services.context import AppContext
from tbdesktop.services.sync.service import SyncService

pytestmark = pytest.mark.postgres

T1 = "t1@clinic.example"


def _reopen(ws: Any) -> None:
    ws.ctx.close()
    ws.ctx = AppContext.open(load_settings(data_dir=ws.root))
    ws.sync = SyncService(ws.ctx)


def test_a_profile_joined_elsewhere_does_not_sync_under_a_policy_naming_another_server(
    clinic: Clinic, workstations: Any, no_machine_policy: Path
) -> None:
    ws = workstations("Room 2")
    user = ws.join(clinic, T1)
    session_id = add_session(ws, user.id)
    no_machine_policy.parent.mkdir(parents=True, exist_ok=True)
    no_machine_policy.write_text(
        json.dumps({"clinic_server": {"url": "postgresql://db.other-clinic.example:5432/tb"}}), encoding="utf-8"
    )
    _reopen(ws)
    with pytest.raises(TBError, match="IT set the clinic server to postgresql://db.other-clinic.example:5432/tb"):
        ws.sync.sync_now(user.id)
    assert clinic.count("therapy_sessions", f"WHERE id = '{session_id}'") == 0, "nothing reached the server"
    status = ws.sync.status(user.id)
    assert status.state == "paused" and "Leave the clinic" in status.text
    assert ws.sync.listen_connection(user.id) is None

    # The policy naming this clinic's server: the session goes up as before.
    no_machine_policy.write_text(json.dumps({"clinic_server": {"url": clinic.url}}), encoding="utf-8")
    _reopen(ws)
    ws.sync.sync_now(user.id)
    assert clinic.count("therapy_sessions", f"WHERE id = '{session_id}'") == 1
