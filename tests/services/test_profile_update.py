"""Changing a profile's name and email: owner-only, validated, audited, and read back everywhere."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tbdesktop.errors import PermissionDeniedError, ValidationError
from tbdesktop.services.profiles import ProfileService
from tbdesktop.store.models import AuditEvent


def test_a_clinician_updates_their_own_profile_only(ctx: Any) -> None:
    profiles = ProfileService(ctx)
    me = profiles.create_profile_sync("Dana Reyes", "dana@example.org")
    other = profiles.create_profile_sync("Ben Cole", "ben@example.org")

    updated = profiles.update_profile_sync(me, me.id, "  Dr. Dana Reyes ", "dana.reyes@example.org")
    assert (updated.display_name, updated.email) == ("Dr. Dana Reyes", "dana.reyes@example.org")
    assert profiles.get_sync(me.id).display_name == "Dr. Dana Reyes"

    with pytest.raises(PermissionDeniedError):
        profiles.update_profile_sync(other, me.id, "Someone else", None)
    with pytest.raises(ValidationError, match="name"):
        profiles.update_profile_sync(me, me.id, "   ", None)
    with pytest.raises(ValidationError, match="email address does not look right"):
        profiles.update_profile_sync(me, me.id, "Dana", "not-an-address")
    with pytest.raises(ValidationError, match="Another profile"):
        profiles.update_profile_sync(me, me.id, "Dana", "BEN@example.org")
    assert profiles.get_sync(me.id).email == "dana.reyes@example.org"  # refused changes left nothing behind

    profiles.update_profile_sync(me, me.id, "Dr. Dana Reyes", "dana.reyes@example.org")  # no change: no event
    with ctx.db.unit_of_work() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "profile.update")).all()
        assert [(e.user_id, e.object_id) for e in events] == [(me.id, str(me.id))]
