"""Paired significance of a difference between two runs: hand-computed fixtures."""

from __future__ import annotations

import pytest

from rag.evaluation import stats


def test_exact_sign_flip_p_value() -> None:
    # d = (1, 2, 3): the 8 sign assignments sum to ±6, ±4, ±2, 0, 0; |sum| ≥ 6 for 2 of them.
    assert stats.randomization_p_value([1.0, 2.0, 3.0]) == pytest.approx(2 / 8)
    # Unchanged questions carry no sign information and are left out (same p-value).
    assert stats.randomization_p_value([0.0, 1.0, 0.0, 2.0, 3.0]) == pytest.approx(2 / 8)
    # d = (0.5, -0.5): sums 0, 1, -1, 0 and the observed sum is 0: every assignment is as extreme.
    assert stats.randomization_p_value([0.5, -0.5]) == 1.0
    assert stats.randomization_p_value([0.0, 0.0]) == 1.0


def test_sampled_sign_flip_p_value_is_small_but_not_zero() -> None:
    # 20 questions all up by 1: only 2 of the 2**20 assignments reach |sum| = 20 (too many to enumerate).
    p = stats.randomization_p_value([1.0] * 20, trials=5000)
    assert 0 < p < 0.001
    assert p == pytest.approx(1 / 5001)
    # Half up, half down by the same amount: no evidence of a difference.
    assert stats.randomization_p_value([1.0, -1.0] * 10, trials=5000) == 1.0


def test_bootstrap_interval() -> None:
    assert stats.bootstrap_interval([0.25] * 7) == (0.25, 0.25)
    low, high = stats.bootstrap_interval([0.0, 1.0] * 20)
    # Mean 0.5, standard error 0.5/sqrt(40) ≈ 0.079: the 95 % interval is about 0.5 ± 0.155.
    assert 0.30 < low < 0.40 < 0.60 < high < 0.70
    with pytest.raises(ValueError):
        stats.bootstrap_interval([])


def test_paired_difference() -> None:
    diff = stats.paired_difference([1.0, 0.5, 0.0, 1.0], [1.0, 1.0, 0.5, 0.0])
    # b − a = (0, +0.5, +0.5, −1): mean 0; non-zero d = (0.5, 0.5, −1) sums to 0, so p = 1.
    assert diff.n == 4 and diff.up == 2 and diff.down == 1
    assert diff.mean == pytest.approx(0.0)
    assert diff.p_value == 1.0
    assert diff.low <= 0.0 <= diff.high
    assert "2 up, 1 down, 1 unchanged" in diff.describe()
    with pytest.raises(ValueError):
        stats.paired_difference([1.0], [1.0, 0.0])
    with pytest.raises(ValueError):
        stats.paired_difference([], [])
