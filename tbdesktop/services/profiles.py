"""Local therapist profiles: the first-run profile and the signed-in user."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

from tbdesktop.errors import PermissionDeniedError, ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.convert import user_info
from tbdesktop.services.database_keys import ProfileEntry
from tbdesktop.services.dto import UserInfo
from tbdesktop.services.offloop import off_loop
from tbdesktop.store.models import DEFAULT_USER_SETTINGS, Role, User
from tbdesktop.store.repositories import AuditRepository, UserRepository

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PRACTICE_NAME_KEY = "practice_name"  # in the profile's settings: the practice named on exported notes
MIN_PASSCODE = 6
MAX_PASSCODE = 128
DEFAULT_IDLE_LOCK_MINUTES = 15


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


def check_passcode(passcode: str) -> str:
    if not MIN_PASSCODE <= len(passcode or "") <= MAX_PASSCODE:
        raise ValidationError(f"A passcode needs {MIN_PASSCODE} to {MAX_PASSCODE} characters.")
    return passcode


def _profile_name(display_name: str) -> str:
    name = (display_name or "").strip()
    if not name:
        raise ValidationError("Please enter your name.")
    if len(name) > 200:
        raise ValidationError("The name is too long (200 characters at most).")
    return name


def _profile_email(email: str | None, *, max_length: int | None = None) -> str | None:
    """The address trimmed, None when blank; ``max_length`` is checked on changes (new profiles never had it)."""
    mail = (email or "").strip() or None
    if mail is not None and ((max_length is not None and len(mail) > max_length) or not _EMAIL.match(mail)):
        raise ValidationError("That email address does not look right.")
    return mail


def practice_name_of(user: User | None) -> str:
    """The practice (clinic) name a profile puts on exported notes; "" when none is set."""
    settings: dict[str, Any] = (user.settings or {}) if user is not None else {}
    return str(settings.get(PRACTICE_NAME_KEY) or "")


class ProfileService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def list_profiles_sync(self) -> list[UserInfo]:
        with self.ctx.db.unit_of_work() as s:
            return [user_info(u) for u in UserRepository(s).all()]

    list_profiles = off_loop(list_profiles_sync)

    def local_profile_sync(self) -> UserInfo | None:
        profiles = self.list_profiles_sync()
        return profiles[0] if profiles else None

    local_profile = off_loop(local_profile_sync)

    def create_profile_sync(
        self,
        display_name: str,
        email: str | None = None,
        role: str = Role.THERAPIST.value,
        passcode: str | None = None,
    ) -> UserInfo:
        name = _profile_name(display_name)
        mail = _profile_email(email)
        if role not in {r.value for r in Role}:
            raise ValidationError(f"Unknown role '{role}'.")
        keys = self.ctx.database_keys
        if passcode is None and keys is not None and not self.ctx.secrets.uses_os_keyring:
            raise ValidationError("Choose a passcode: on this computer it is what opens your encrypted data.")
        hashed = _hasher().hash(check_passcode(passcode)) if passcode is not None else None
        with self.ctx.db.unit_of_work() as s:
            if mail is not None and UserRepository(s).by_email(mail) is not None:
                raise ValidationError("A profile with that email address already exists.")
        user_id = uuid.uuid4()
        if keys is not None:
            # The key slot first: a profile row never exists without a way for it to open the database.
            keys.grant(user_id, hashed, ProfileEntry(user_id, name, mail, role))
        with self.ctx.db.unit_of_work() as s:
            users = UserRepository(s)
            if mail is not None and users.by_email(mail) is not None:
                raise ValidationError("A profile with that email address already exists.")
            user = users.add(
                User(
                    id=user_id,
                    display_name=name,
                    email=mail,
                    role=role,
                    password_hash=hashed,
                    settings=dict(DEFAULT_USER_SETTINGS),
                )
            )
            AuditRepository(s, user.id, self.ctx.workstation).record("profile.create", "user", user.id)
            info = user_info(user)
        if passcode is not None:
            # Without an OS keyring, the profile's secret store is created now and opens with this passcode.
            self.ctx.secrets.change_passcode(info.id, None, passcode)
        return info

    async def create_profile(
        self,
        display_name: str,
        email: str | None = None,
        passcode: str | None = None,
        role: str = Role.THERAPIST.value,
    ) -> UserInfo:
        return await asyncio.to_thread(self.create_profile_sync, display_name, email, role, passcode)

    def get_sync(self, user_id: object) -> UserInfo:
        import uuid

        with self.ctx.db.unit_of_work() as s:
            return user_info(UserRepository(s).get(uuid.UUID(str(user_id))))

    def practice_name_sync(self, user_id: uuid.UUID) -> str:
        """The practice (clinic) name the profile puts on exported notes; "" when none is set."""
        with self.ctx.db.unit_of_work() as s:
            return practice_name_of(UserRepository(s).get(user_id))

    practice_name = off_loop(practice_name_sync)

    def update_profile_sync(
        self,
        acting: UserInfo,
        user_id: uuid.UUID,
        display_name: str,
        email: str | None,
        practice: str | None = None,
    ) -> UserInfo:
        """Change a profile's name, email address and (unless ``practice`` is None) the practice name on its
        exported notes: only its owner may (audited as ``profile.update``, never with the values)."""
        if acting.id != user_id:
            raise PermissionDeniedError("You can change only your own profile.")
        name = _profile_name(display_name)
        mail = _profile_email(email, max_length=320)
        practice_name = None if practice is None else " ".join(practice.split())
        if practice_name is not None and len(practice_name) > 200:
            raise ValidationError("The practice name is too long (200 characters at most).")
        with self.ctx.db.unit_of_work() as s:
            users = UserRepository(s)
            user = users.get(user_id)
            if mail is not None and mail.casefold() != (user.email or "").casefold():
                taken = users.by_email(mail)
                if taken is not None and taken.id != user.id:
                    raise ValidationError("Another profile already uses that email address.")
            stored = dict(user.settings or {})
            practice_changed = practice_name is not None and stored.get(PRACTICE_NAME_KEY, "") != practice_name
            if practice_changed:
                if practice_name:
                    stored[PRACTICE_NAME_KEY] = practice_name
                else:
                    stored.pop(PRACTICE_NAME_KEY, None)
                user.settings = stored  # a new dict, so the change is seen
            changed = (user.display_name, user.email) != (name, mail)
            if changed:
                user.display_name = name
                user.email = mail
            if changed or practice_changed:
                AuditRepository(s, user.id, self.ctx.workstation).record("profile.update", "user", user.id)
            info = user_info(user)
        if changed:
            self.ctx.refresh_database_keys()  # the sign-in list shows the new name
        return info

    update_profile = off_loop(update_profile_sync)

    async def change_passcode(self, user_id: uuid.UUID, passcode: str, current: str | None) -> None:
        await asyncio.to_thread(self.set_passcode_sync, user_id, passcode, current)

    # -- passcode and lock --------------------------------------------------------------------------------

    def set_passcode_sync(self, user_id: uuid.UUID, passcode: str, current: str | None = None) -> None:
        """Set the profile's first passcode, or change it (``current`` must then be right).

        Stored as an argon2id hash; it unlocks the idle lock and, without an OS keyring, the profile's secret
        store, which is re-encrypted under the new passcode."""
        hashed = _hasher().hash(check_passcode(passcode))
        if self.has_passcode_sync(user_id) and not self.verify_passcode_sync(user_id, current or ""):
            raise PermissionDeniedError(
                "The current passcode is not right." if current else "Enter the current passcode to change it."
            )
        self.ctx.secrets.change_passcode(user_id, current, passcode)
        if self.ctx.database_keys is not None:
            self.ctx.database_keys.grant(user_id, hashed)
        with self.ctx.db.unit_of_work() as s:
            user = UserRepository(s).get(user_id)
            user.password_hash = hashed
            AuditRepository(s, user.id, self.ctx.workstation).record("profile.passcode", "user", user.id)
        self.ctx.refresh_database_keys()

    def unlock_secrets_sync(self, user_id: uuid.UUID, passcode: str) -> bool:
        """Check the passcode and open the profile's secrets with it (signing in, unlocking the idle lock)."""
        if not self.verify_passcode_sync(user_id, passcode):
            return False
        self.ctx.secrets.unlock(user_id, passcode)
        return True

    unlock_secrets = off_loop(unlock_secrets_sync)

    def needs_unlock(self, user_id: uuid.UUID) -> bool:
        """True when this profile's secrets (its recordings' keys among them) wait for its passcode."""
        return self.ctx.secrets.needs_passcode(user_id)

    def has_passcode_sync(self, user_id: uuid.UUID) -> bool:
        with self.ctx.db.unit_of_work() as s:
            return bool(UserRepository(s).get(user_id).password_hash)

    has_passcode = off_loop(has_passcode_sync)

    def verify_passcode_sync(self, user_id: uuid.UUID, passcode: str) -> bool:
        from argon2.exceptions import VerificationError

        with self.ctx.db.unit_of_work() as s:
            user = UserRepository(s).get(user_id)
            stored = user.password_hash
            ok = False
            if stored and passcode:
                try:
                    ok = bool(_hasher().verify(stored, passcode))
                except VerificationError:
                    ok = False
            AuditRepository(s, user.id, self.ctx.workstation).record(
                "profile.unlock" if ok else "profile.unlock_failed", "user", user.id
            )
            return ok

    verify_passcode = off_loop(verify_passcode_sync)

    def idle_lock_minutes_sync(self, user_id: uuid.UUID) -> int:
        """Minutes of inactivity before the window locks (0 = never); under the clinic policy's maximum, never
        off and never longer."""
        with self.ctx.db.unit_of_work() as s:
            value = (UserRepository(s).get(user_id).settings or {}).get("idle_lock_minutes")
        mine = DEFAULT_IDLE_LOCK_MINUTES if value is None else max(0, int(value))
        return self.ctx.settings.policy.idle_lock_minutes(mine)

    idle_lock_minutes = off_loop(idle_lock_minutes_sync)

    def set_idle_lock_minutes_sync(self, user_id: uuid.UUID, minutes: int) -> None:
        if not 0 <= int(minutes) <= 24 * 60:
            raise ValidationError("The idle lock takes 0 (never) to 1440 minutes.")
        limit = self.ctx.settings.policy.idle_lock_max_minutes
        if limit is not None and not 0 < int(minutes) <= limit:
            raise ValidationError(f"Your clinic's IT requires the idle lock, after at most {limit} minutes.")
        with self.ctx.db.unit_of_work() as s:
            user = UserRepository(s).get(user_id)
            user.settings = {**(user.settings or {}), "idle_lock_minutes": int(minutes)}
            AuditRepository(s, user.id, self.ctx.workstation).record("settings.idle_lock", "user", user.id)
