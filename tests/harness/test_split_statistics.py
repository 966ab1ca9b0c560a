"""The canary split check of the kind tier: an exact binomial acceptance interval."""

from __future__ import annotations

import random

import pytest

from tfserving_harness.split import acceptance_interval, binomial_pmf, judge_split


def test_pmf_sums_to_one_and_matches_a_hand_value():
    assert sum(binomial_pmf(k, 50, 0.2) for k in range(51)) == pytest.approx(1.0)
    assert binomial_pmf(2, 4, 0.5) == pytest.approx(6 / 16)


def test_interval_tails_hold_at_most_alpha():
    n, p, alpha = 2000, 0.2, 0.001
    low, high = acceptance_interval(n, p, alpha)
    below = sum(binomial_pmf(k, n, p) for k in range(low))
    above = sum(binomial_pmf(k, n, p) for k in range(high + 1, n + 1))
    assert below <= alpha / 2 and above <= alpha / 2
    # ... and the interval is the tightest such one: one step in would exceed the tail budget.
    assert below + binomial_pmf(low, n, p) > alpha / 2 and above + binomial_pmf(high, n, p) > alpha / 2
    assert low < n * p < high


def test_interval_is_about_three_standard_deviations_for_alpha_0_001():
    low, high = acceptance_interval(2000, 0.2)
    sd = (2000 * 0.2 * 0.8) ** 0.5
    assert 3.0 * sd < (high - low) / 2 < 3.6 * sd


def test_verdicts_for_a_right_and_a_wrong_split():
    assert judge_split(400, 2000, 20).ok
    wrong = judge_split(300, 2000, 20)
    assert not wrong.ok and "OUT OF TOLERANCE" in str(wrong) and "15.0%" in str(wrong)


def test_a_fair_split_passes_almost_always_a_biased_one_fails():
    rng = random.Random(7)
    fair = sum(judge_split(sum(rng.random() < 0.1 for _ in range(2000)), 2000, 10).ok for _ in range(200))
    biased = sum(judge_split(sum(rng.random() < 0.14 for _ in range(2000)), 2000, 10).ok for _ in range(200))
    assert fair >= 198 and biased <= 5


def test_zero_and_full_weight_accept_only_the_exact_count():
    assert acceptance_interval(100, 0.0) == (0, 0)
    assert acceptance_interval(100, 1.0) == (100, 100)


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="need n > 0"):
        acceptance_interval(0, 0.5)
