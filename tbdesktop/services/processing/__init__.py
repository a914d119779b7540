"""Processing: a persistent job queue in the database, run by worker processes (spawn)."""

from tbdesktop.services.processing.runner import ProcessingRunner

__all__ = ["ProcessingRunner"]
