"""The signed-in user's own audit trail: what they did, to which object, when and on which workstation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tbdesktop.errors import ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import JsonMixin, UserInfo
from tbdesktop.services.offloop import off_loop
from tbdesktop.store.repositories import AuditRepository

MAX_TRAIL = 5000


@dataclass(frozen=True)
class AuditInfo(JsonMixin):
    at: datetime
    action: str
    object_type: str
    object_id: str | None
    workstation: str | None
    user_name: str


class AuditService:
    def __init__(self, ctx: AppContext, user: UserInfo) -> None:
        self.ctx = ctx
        self.user = user

    def trail_sync(self, limit: int = 200) -> list[AuditInfo]:
        """My newest events first (someone else's never: the repository filters by user)."""
        if not 1 <= limit <= MAX_TRAIL:
            raise ValidationError(f"The number of events must be between 1 and {MAX_TRAIL}.")
        with self.ctx.db.unit_of_work() as s:
            events = AuditRepository(s, self.user.id, self.ctx.workstation).mine(limit)
            return [
                AuditInfo(
                    at=e.at,
                    action=e.action,
                    object_type=e.object_type,
                    object_id=e.object_id,
                    workstation=e.workstation,
                    user_name=self.user.display_name,
                )
                for e in events
            ]

    trail = off_loop(trail_sync)
