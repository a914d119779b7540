"""Clinic mode: the workstation's SQLite syncs with the clinic's PostgreSQL (see docs/decisions/0013)."""
