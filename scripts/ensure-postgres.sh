#!/usr/bin/env bash
# Starts the local PostgreSQL cluster when it is not answering (tests use 127.0.0.1:5432, database `test`).
set -uo pipefail
host=${TB_TEST_PG_HOST:-127.0.0.1}
ready() { pg_isready -q -h "$host" -p 5432 2>/dev/null; }
ready && exit 0
if command -v pg_ctlcluster >/dev/null; then
  for v in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$v" main start 2>/dev/null || pg_ctlcluster "$v" main start || true
  done
fi
for _ in $(seq 1 30); do ready && exit 0; sleep 1; done
echo "PostgreSQL is not running on $host:5432; the PostgreSQL tests will fail." >&2
exit 1
