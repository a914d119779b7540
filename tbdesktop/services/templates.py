"""Note templates: built-ins (read-only), clinic-wide (practice managers edit them) and a therapist's own."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from sqlalchemy.orm import Session

from tbdesktop.engine.notes import NoteTemplateSpec, TemplateError
from tbdesktop.errors import NotFoundError, PermissionDeniedError, TBError, ValidationError
from tbdesktop.services.context import AppContext
from tbdesktop.services.dto import TemplateInfo, TemplateSectionInfo, UserInfo
from tbdesktop.services.offloop import off_loop
from tbdesktop.store.models import NoteTemplate, Role, User
from tbdesktop.store.note_repositories import TemplateRepository
from tbdesktop.store.repositories import AuditRepository, UserRepository

MANAGERS = {Role.PRACTICE_MANAGER.value, Role.ADMIN.value}


def validate(name: str, content: Any) -> NoteTemplateSpec:
    try:
        return NoteTemplateSpec.from_content(name, content)
    except TemplateError as exc:
        raise ValidationError(exc.message) from exc


def parse_id(value: uuid.UUID | str) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        return None


class TemplateService:
    def __init__(self, ctx: AppContext, user: UserInfo) -> None:
        self.ctx = ctx
        self.user = user

    @property
    def is_manager(self) -> bool:
        return self.user.role in MANAGERS

    # -- reading ------------------------------------------------------------------------------------------

    def list_sync(self) -> list[TemplateInfo]:
        with self.ctx.db.unit_of_work() as s:
            repo = TemplateRepository(s, self.user.id)
            default_id = self._default_id(s, repo)
            return [self._info(t, default_id) for t in repo.list()]

    list_templates = off_loop(list_sync)

    def get_sync(self, ref: uuid.UUID | str) -> TemplateInfo:
        with self.ctx.db.unit_of_work() as s:
            repo = TemplateRepository(s, self.user.id)
            return self._info(self._resolve(repo, ref), self._default_id(s, repo))

    get = off_loop(get_sync)

    def default_sync(self) -> TemplateInfo:
        """My default template: the one I chose, else the clinic's, else SOAP."""
        with self.ctx.db.unit_of_work() as s:
            repo = TemplateRepository(s, self.user.id)
            default_id = self._default_id(s, repo)
            if default_id is None:
                raise NotFoundError("No note template is available.")
            return self._info(repo.get(default_id), default_id)

    # -- changing -----------------------------------------------------------------------------------------

    def create_sync(self, name: str, content: Any, *, clinic_wide: bool = False) -> TemplateInfo:
        spec = validate(name, content)
        if clinic_wide and not self.is_manager:
            raise PermissionDeniedError("Only a practice manager can create clinic-wide templates.")
        with self.ctx.db.unit_of_work() as s:
            repo = TemplateRepository(s, self.user.id)
            row = repo.add(
                NoteTemplate(
                    user_id=None if clinic_wide else self.user.id,
                    name=spec.name,
                    template_content=spec.to_content(),
                    builtin=False,
                )
            )
            AuditRepository(s, self.user.id, self.ctx.workstation).record("template.create", "template", row.id)
            return self._info(row, self._default_id(s, repo))

    create = off_loop(create_sync)

    def update_sync(self, ref: uuid.UUID | str, *, name: str | None = None, content: Any = None) -> TemplateInfo:
        with self.ctx.db.unit_of_work() as s:
            repo = TemplateRepository(s, self.user.id)
            row = self._resolve(repo, ref)
            self._check_editable(row)
            spec = validate(
                name if name is not None else row.name, content if content is not None else row.template_content
            )
            row.name = spec.name
            row.template_content = spec.to_content()
            s.flush()
            AuditRepository(s, self.user.id, self.ctx.workstation).record("template.update", "template", row.id)
            return self._info(row, self._default_id(s, repo))

    update = off_loop(update_sync)

    def delete_sync(self, ref: uuid.UUID | str) -> None:
        with self.ctx.db.unit_of_work() as s:
            repo = TemplateRepository(s, self.user.id)
            row = self._resolve(repo, ref)
            self._check_editable(row)
            template_id = row.id
            repo.delete(row)
            user = UserRepository(s).get(self.user.id)
            if (user.settings or {}).get("default_template") == str(template_id):
                user.settings = {**(user.settings or {}), "default_template": None}
            AuditRepository(s, self.user.id, self.ctx.workstation).record("template.delete", "template", template_id)

    delete = off_loop(delete_sync)

    def duplicate_sync(
        self, ref: uuid.UUID | str, name: str | None = None, *, clinic_wide: bool = False
    ) -> TemplateInfo:
        """A copy I can edit (of a built-in, a clinic-wide template or one of mine)."""
        with self.ctx.db.unit_of_work() as s:
            source = self._resolve(TemplateRepository(s, self.user.id), ref)
            content = copy.deepcopy(source.template_content)
            new_name = name or f"{source.name} (copy)"
        return self.create_sync(new_name, content, clinic_wide=clinic_wide)

    duplicate = off_loop(duplicate_sync)

    def set_default_sync(self, ref: uuid.UUID | str) -> TemplateInfo:
        """My default template (a setting of my profile; the clinic default stays as it is)."""
        with self.ctx.db.unit_of_work() as s:
            repo = TemplateRepository(s, self.user.id)
            row = self._resolve(repo, ref)
            user = UserRepository(s).get(self.user.id)
            user.settings = {**(user.settings or {}), "default_template": str(row.id)}
            s.flush()
            AuditRepository(s, self.user.id, self.ctx.workstation).record("template.set_default", "template", row.id)
            return self._info(row, row.id)

    set_default = off_loop(set_default_sync)

    # -- helpers ------------------------------------------------------------------------------------------

    def _resolve(self, repo: TemplateRepository, ref: uuid.UUID | str) -> NoteTemplate:
        template_id = parse_id(ref)
        if template_id is not None:
            return repo.get(template_id)
        found = repo.find_by_name(str(ref))
        if found is None:
            raise NotFoundError(f"No template called '{ref}'.")
        return found

    def _check_editable(self, row: NoteTemplate) -> None:
        if row.builtin:
            raise PermissionDeniedError(
                f"'{row.name}' is a built-in template and cannot be changed; duplicate it to customise it."
            )
        if row.user_id is None and not self.is_manager:
            raise PermissionDeniedError("Only a practice manager can change clinic-wide templates.")
        if row.user_id is not None and row.user_id != self.user.id:
            raise NotFoundError("That template does not exist or belongs to someone else.")

    def _editable(self, row: NoteTemplate) -> bool:
        try:
            self._check_editable(row)
        except TBError:
            return False
        return True

    def _default_id(self, s: Session, repo: TemplateRepository) -> uuid.UUID | None:
        found = default_template(s, self.user.id)
        return found.id if found is not None else None

    def _info(self, row: NoteTemplate, default_id: uuid.UUID | None) -> TemplateInfo:
        sections = [
            TemplateSectionInfo(
                key=str(x.get("key")),
                title=str(x.get("title")),
                instructions=str(x.get("instructions")),
                max_words=x.get("max_words"),
            )
            for x in (row.template_content or {}).get("sections", [])
        ]
        scope = "builtin" if row.builtin else ("clinic" if row.user_id is None else "mine")
        return TemplateInfo(
            id=row.id,
            name=row.name,
            scope=scope,
            sections=sections,
            is_default=row.id == default_id,
            editable=self._editable(row),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def default_template(s: Session, user_id: uuid.UUID) -> NoteTemplate | None:
    """The user's chosen default template, else the clinic's, else the first one they can see."""
    repo = TemplateRepository(s, user_id)
    user: User = UserRepository(s).get(user_id)
    chosen = parse_id(str((user.settings or {}).get("default_template") or ""))
    if chosen is not None:
        try:
            return repo.get(chosen)
        except NotFoundError:
            pass  # deleted since: fall back to the clinic's
    clinic = repo.clinic_default()
    if clinic is not None:
        return clinic
    first = repo.list()
    return first[0] if first else None


def spec_of(info: TemplateInfo) -> NoteTemplateSpec:
    return validate(info.name, info.content())
