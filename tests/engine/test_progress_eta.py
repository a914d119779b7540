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


def test_before_a_measurement_the_expected_duration_stands_in_and_the_clock_moves_the_fraction() -> None:
    est = MeasuredEta(time.perf_counter() - 5.0, expected_s=20.0)  # five seconds into an expected twenty
    fraction, eta = est.estimate()
    assert 0.24 < fraction < 0.27 and eta is not None and 14.5 < eta < 15.1
    est.advance_to(0.5)  # measured: half in five seconds, so ten in all
    fraction, eta = est.estimate()
    assert 0.5 <= fraction < 0.51 and eta is not None and 4.5 < eta < 5.1


def test_the_clock_alone_never_finishes_a_stage_and_finish_does() -> None:
    est = MeasuredEta(time.perf_counter() - 100.0, expected_s=10.0)  # far past what was expected
    fraction, eta = est.estimate()
    assert fraction == 0.97 and eta == 0.0
    est.finish()
    assert est.estimate() == (1.0, 0.0) and est.eta() == 0.0


def test_without_an_expectation_or_a_measurement_nothing_is_claimed() -> None:
    assert MeasuredEta().estimate() == (0.0, None)
