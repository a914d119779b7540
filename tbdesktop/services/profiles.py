"""Local therapist profiles: the first-run profile and the signed-in user."""

from __future__ import annotations

import asyncio
import re

from tbdesktop.errors import ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.convert import user_info
from tbdesktop.services.dto import UserInfo
from tbdesktop.store.models import DEFAULT_USER_SETTINGS, Role, User
from tbdesktop.store.repositories import AuditRepository, UserRepository

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ProfileService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def list_profiles_sync(self) -> list[UserInfo]:
        with self.ctx.db.unit_of_work() as s:
            return [user_info(u) for u in UserRepository(s).all()]

    async def list_profiles(self) -> list[UserInfo]:
        return await asyncio.to_thread(self.list_profiles_sync)

    def local_profile_sync(self) -> UserInfo | None:
        profiles = self.list_profiles_sync()
        return profiles[0] if profiles else None

    async def local_profile(self) -> UserInfo | None:
        return await asyncio.to_thread(self.local_profile_sync)

    def create_profile_sync(
        self, display_name: str, email: str | None = None, role: str = Role.THERAPIST.value
    ) -> UserInfo:
        name = (display_name or "").strip()
        if not name:
            raise ValidationError("Please enter your name.")
        if len(name) > 200:
            raise ValidationError("The name is too long (200 characters at most).")
        mail = (email or "").strip() or None
        if mail is not None and not _EMAIL.match(mail):
            raise ValidationError("That email address does not look right.")
        if role not in {r.value for r in Role}:
            raise ValidationError(f"Unknown role '{role}'.")
        with self.ctx.db.unit_of_work() as s:
            users = UserRepository(s)
            if mail is not None and users.by_email(mail) is not None:
                raise ValidationError("A profile with that email address already exists.")
            user = users.add(
                User(display_name=name, email=mail, role=role, settings=dict(DEFAULT_USER_SETTINGS))
            )
            AuditRepository(s, user.id, self.ctx.workstation).record("profile.create", "user", user.id)
            return user_info(user)

    async def create_profile(
        self, display_name: str, email: str | None = None, role: str = Role.THERAPIST.value
    ) -> UserInfo:
        return await asyncio.to_thread(self.create_profile_sync, display_name, email, role)

    def get_sync(self, user_id: object) -> UserInfo:
        import uuid

        with self.ctx.db.unit_of_work() as s:
            return user_info(UserRepository(s).get(uuid.UUID(str(user_id))))
