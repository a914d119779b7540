"""Fixtures of the service tests."""

from clinic_support import clinic, workstations  # noqa: F401  (a clinic database and its workstations)
