"""Clinic-mode test support: a fresh clinic database on the private cluster, its clinicians, and workstations (each an
``AppContext`` over its own data folder, as two computers would have)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from tbdesktop.config import load_settings
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.profiles import ProfileService
from tbdesktop.services.sync.connect import clinic_engine
from tbdesktop.services.sync.server import add_user, init_clinic
from tbdesktop.services.sync.service import SyncService
from tbdesktop.store.models import Client, Note, TherapySession, TranscriptSegment

PASSWORDS = {
    "t1@clinic.example": "first-therapist-pw",
    "t2@clinic.example": "second-therapist-pw",
    "pm@clinic.example": "practice-manager-pw",
}
ROLES = {"t1@clinic.example": "therapist", "t2@clinic.example": "therapist", "pm@clinic.example": "practice_manager"}


@dataclass
class Clinic:
    admin_url: str
    url: str  # as a workstation stores it: no credentials
    ids: dict[str, uuid.UUID] = field(default_factory=dict)

    def count(self, table: str, where: str = "") -> int:
        """Rows on the server, counted as the administrator (no row-level security applies to a superuser)."""
        engine = clinic_engine(self.admin_url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(text(f"SELECT count(*) FROM {table} {where}")).scalar_one())
        finally:
            engine.dispose()

    def sql(self, statement: str, **params: Any) -> Any:
        engine = clinic_engine(self.admin_url)
        try:
            with engine.begin() as conn:
                result = conn.execute(text(statement), params)
                return result.all() if result.returns_rows else None
        finally:
            engine.dispose()


@pytest.fixture
def clinic(clinic_cluster: Any) -> Clinic:
    admin = clinic_cluster.new_database()
    init_clinic(admin)
    c = Clinic(admin_url=admin, url=clinic_cluster.server_url(admin.rsplit("/", 1)[1]))
    for email, password in PASSWORDS.items():
        c.ids[email] = add_user(admin, email, email.split("@")[0].upper(), ROLES[email], password)
    return c


class Workstation:
    def __init__(self, name: str, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.name = name
        self.root = root
        monkeypatch.setenv("TB_WORKSTATION_NAME", name)
        self.ctx = AppContext.open(load_settings(data_dir=root))
        self.sync = SyncService(self.ctx)

    def join(self, clinic: Clinic, email: str) -> UserInfo:
        info = self.sync.join(clinic.url, email, PASSWORDS[email])
        self.sync.sync_now(info.user_id)
        return self.user(info.user_id)

    def user(self, user_id: uuid.UUID) -> UserInfo:
        return next(p for p in ProfileService(self.ctx).list_profiles_sync() if p.id == user_id)

    def count(self, model: Any, *where: Any) -> int:
        with self.ctx.db.unit_of_work() as s:
            return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def close(self) -> None:
        self.ctx.close()


@pytest.fixture
def workstations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    made: list[Workstation] = []

    def make(name: str) -> Workstation:
        ws = Workstation(name, tmp_path / name.replace(" ", "_"), monkeypatch)
        made.append(ws)
        return ws

    yield make
    for ws in made:
        ws.close()


def add_session(ws: Workstation, owner: uuid.UUID, *, lines: int = 3, client: str = "Jordan") -> uuid.UUID:
    """A processed session with a transcript and a draft note, written as processing would."""
    with ws.ctx.db.unit_of_work() as s:
        c = Client(owner_id=owner, name=client)
        s.add(c)
        s.flush()
        row = TherapySession(
            owner_id=owner,
            client_id=c.id,
            session_date=date(2026, 12, 1),
            duration_mins=50.0,
            recording_host=ws.name,
            processing_status="completed",
            ai_summary="Discussed sleep and work stress.",
            speakers={"SPEAKER_00": {"role": "therapist"}, "SPEAKER_01": {"role": "client"}},
        )
        s.add(row)
        s.flush()
        for i in range(lines):
            s.add(
                TranscriptSegment(
                    session_id=row.id,
                    idx=i,
                    start_s=i * 5.0,
                    end_s=i * 5.0 + 4.0,
                    speaker="SPEAKER_01" if i % 2 else "SPEAKER_00",
                    role="client" if i % 2 else "therapist",
                    text=f"Line {i} about sleep and work.",
                    words=[],
                )
            )
        s.add(
            Note(
                session_id=row.id,
                version=1,
                sections={
                    "subjective": {"title": "Subjective", "text": "Client reports poor sleep.", "position": 0},
                    "plan": {"title": "Plan", "text": "Meet next week.", "position": 1},
                },
                status="draft",
                generator="local",
            )
        )
        return row.id


def shared_session(clinic: Clinic, workstations: Any, email: str = "t1@clinic.example") -> tuple[Any, ...]:
    """Room 2 and Room 4, both joined by one clinician, with a session made on Room 2 already on both.
    Returns (room 2, room 4, the clinician on room 2, the clinician on room 4, the session's id)."""
    a, b = workstations("Room 2"), workstations("Room 4")
    user = a.join(clinic, email)
    session_id = add_session(a, user.id)
    a.sync.sync_now()
    b_user = b.join(clinic, email)
    return a, b, user, b_user, session_id
