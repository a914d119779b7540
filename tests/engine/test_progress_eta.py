"""The engine's one ETA estimator: the fraction never goes back, the time left comes from the measured speed."""

from __future__ import annotations

import time

from tbdesktop.engine.progress import MeasuredEta


def test_time_left_comes_from_the_speed_measured_so_far() -> None:
    est = MeasuredEta(time.perf_counter() - 10.0)  # ten seconds in
    assert est.eta() is None  # nothing measured yet
    est.advance_to(0.25)
    eta = est.eta()
    assert eta is not None and 29.0 < eta < 30.5  # a quarter took ten seconds: thirty left
    est.advance_to(0.1)  # a step back is ignored
    assert est.fraction == 0.25


def test_fraction_is_capped_until_the_stage_ends_and_small_fractions_say_nothing() -> None:
    est = MeasuredEta(time.perf_counter() - 1.0, cap=0.99, min_fraction=0.05)
    est.advance_to(0.01)
    assert est.fraction == 0.01 and est.eta() is None
    est.advance_to(1.5)
    assert est.fraction == 0.99
    eta = est.eta()
    assert eta is not None and eta < 0.1
