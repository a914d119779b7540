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


def test_the_practice_name_is_kept_with_the_profile_and_only_its_owner_changes_it(ctx: Any) -> None:
    profiles = ProfileService(ctx)
    me = profiles.create_profile_sync("Dana Reyes", "dana@example.org")
    other = profiles.create_profile_sync("Ben Cole", "ben@example.org")
    assert profiles.practice_name_sync(me.id) == ""

    profiles.update_profile_sync(me, me.id, "Dana Reyes", "dana@example.org", "  Riverside   Counselling ")
    assert profiles.practice_name_sync(me.id) == "Riverside Counselling"
    assert profiles.practice_name_sync(other.id) == ""
    # None leaves it as it is; "" clears it
    profiles.update_profile_sync(me, me.id, "Dana Reyes", "dana@example.org")
    assert profiles.practice_name_sync(me.id) == "Riverside Counselling"
    with pytest.raises(PermissionDeniedError):
        profiles.update_profile_sync(other, me.id, "Dana Reyes", "dana@example.org", "Elsewhere")
    with pytest.raises(ValidationError, match="practice name is too long"):
        profiles.update_profile_sync(me, me.id, "Dana Reyes", "dana@example.org", "x" * 201)
    assert profiles.practice_name_sync(me.id) == "Riverside Counselling"
    profiles.update_profile_sync(me, me.id, "Dana Reyes", "dana@example.org", "")
    assert profiles.practice_name_sync(me.id) == ""
    with ctx.db.unit_of_work() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "profile.update")).all()
        # the two changes, each an event naming only the profile (an audit row has no room for the name itself)
        assert [(e.object_type, e.object_id) for e in events] == [("user", str(me.id))] * 2
