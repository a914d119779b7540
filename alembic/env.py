"""Alembic environment: uses the engine handed over by tbdesktop.store.migrate, or TB_DATABASE_URL."""

from __future__ import annotations

from sqlalchemy import Engine

from alembic import context
from tbdesktop.store.db import make_engine
from tbdesktop.store.models import Base
from tbdesktop.store.search_repository import is_search_index_object

config = context.config
target_metadata = Base.metadata


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine  # type: ignore[no-any-return]
    from tbdesktop.config import load_settings

    return make_engine(load_settings().effective_database_url)


def run_migrations_offline() -> None:
    from tbdesktop.config import load_settings

    context.configure(
        url=load_settings().effective_database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            # full-text indexes exist only in the database (migration 0004), never in the models
            include_name=lambda name, type_, parent: not is_search_index_object(name),
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
