"""Practice figures for practice managers on the clinic server (PostgreSQL only; nothing on SQLite).

``tb_stats.practice_figures(from_date, to_date)`` returns the whole clinic's counts — sessions and minutes per week,
notes signed / draft / none per week, days from session to signature (median per week, overall, and a distribution),
raised risk flags per month and kind — and never a row, a name or any text of a session. It runs as its owner
(SECURITY DEFINER, fixed search path), so row-level security does not hide other clinicians' sessions from the
count, and it refuses every caller whose clinic login is not a practice manager's.

It lives in a schema of its own: the clinic set-up (``tbdesktop clinic init``) revokes every right in ``public``
and grants back only what its policies list, which would also take back the right to call this function.

Revision ID: 0010_practice_stats
Revises: 0009_risk_flag_reviews
Create Date: 2026-12-05 02:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_practice_stats"
down_revision: str | None = "0009_risk_flag_reviews"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Days to signature are bucketed by their lower bound: 0, 1, 2-3, 4-7, 8 and more (services/stats.py names them).
_FUNCTION = """
CREATE OR REPLACE FUNCTION tb_stats.practice_figures(from_date date, to_date date)
RETURNS TABLE (series text, bucket date, label text, value double precision)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE
  caller_role text;
BEGIN
  SELECT u.role INTO caller_role FROM users u JOIN clinic_users cu ON cu.user_id = u.id
   WHERE cu.login_role = session_user;
  IF caller_role IS DISTINCT FROM 'practice_manager' THEN
    RAISE EXCEPTION 'Practice figures are shown to practice managers only.' USING ERRCODE = '42501';
  END IF;
  RETURN QUERY
  WITH s AS (
    SELECT ts.id, ts.session_date AS day, date_trunc('week', ts.session_date::timestamp)::date AS week,
           COALESCE(ts.duration_mins, 0)::float8 AS minutes,
           EXISTS (SELECT 1 FROM notes n WHERE n.session_id = ts.id) AS noted,
           (SELECT min(n.signed_at) FROM notes n WHERE n.session_id = ts.id AND n.status = 'signed') AS signed
      FROM therapy_sessions ts
     WHERE (from_date IS NULL OR ts.session_date >= from_date)
       AND (to_date IS NULL OR ts.session_date <= to_date)
  ), lag AS (
    SELECT s.week, GREATEST(0, (s.signed AT TIME ZONE 'UTC')::date - s.day) AS days FROM s WHERE s.signed IS NOT NULL
  )
  SELECT 'sessions'::text, s.week, NULL::text, count(*)::float8 FROM s GROUP BY s.week
  UNION ALL
  SELECT 'minutes'::text, s.week, NULL::text, sum(s.minutes)::float8 FROM s GROUP BY s.week
  UNION ALL
  SELECT 'notes'::text, s.week,
         (CASE WHEN s.signed IS NOT NULL THEN 'signed' WHEN s.noted THEN 'draft' ELSE 'none' END)::text,
         count(*)::float8
    FROM s GROUP BY 2, 3
  UNION ALL
  SELECT 'sign_days_median'::text, lag.week, NULL::text,
         (percentile_cont(0.5) WITHIN GROUP (ORDER BY lag.days))::float8
    FROM lag GROUP BY lag.week
  UNION ALL
  SELECT 'sign_days_median'::text, NULL::date, NULL::text,
         (percentile_cont(0.5) WITHIN GROUP (ORDER BY lag.days))::float8
    FROM lag HAVING count(*) > 0
  UNION ALL
  SELECT 'sign_days'::text, NULL::date,
         (CASE WHEN lag.days = 0 THEN '0' WHEN lag.days = 1 THEN '1' WHEN lag.days <= 3 THEN '2'
               WHEN lag.days <= 7 THEN '4' ELSE '8' END)::text,
         count(*)::float8
    FROM lag GROUP BY 3
  UNION ALL
  SELECT 'risk'::text, date_trunc('month', s.day::timestamp)::date, rf.kind::text, count(*)::float8
    FROM risk_flags rf JOIN s ON s.id = rf.session_id
   WHERE rf.severity IN ('low', 'moderate', 'high')
   GROUP BY 2, 3;
END $$;
"""

_UP = [
    "CREATE SCHEMA IF NOT EXISTS tb_stats",
    "REVOKE ALL ON SCHEMA tb_stats FROM PUBLIC",
    _FUNCTION,
    # Only clinic logins (and IT's administrators) can connect to a clinic database; the function itself lets
    # practice managers through and no one else.
    "REVOKE ALL ON FUNCTION tb_stats.practice_figures(date, date) FROM PUBLIC",
    "GRANT USAGE ON SCHEMA tb_stats TO PUBLIC",
    "GRANT EXECUTE ON FUNCTION tb_stats.practice_figures(date, date) TO PUBLIC",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in _UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SCHEMA IF EXISTS tb_stats CASCADE")
