"""Alembic: dialect implementations are looked up by name; the migration scripts import alembic.op."""

from PyInstaller.utils.hooks import copy_metadata

hiddenimports = [
    "alembic.op",
    "alembic.context",
    "alembic.ddl.impl",
    "alembic.ddl.sqlite",
    "alembic.ddl.postgresql",
    "alembic.runtime.migration",
    "alembic.runtime.environment",
    "alembic.script.revision",
    "alembic.operations.toimpl",
    "logging.config",
    "mako.template",
]
excludedimports = ["alembic.testing"]
# Alembic discovers plugins through package metadata (entry points).
datas = copy_metadata("alembic")
