"""Is a difference between two runs real? Paired tests over per-question scores (as ranx and ir_measures report).

With 44 questions per language a single question moves MRR@10 by up to 0.023, so a before/after table alone cannot
say whether a change helps: these give the confidence interval of the mean difference and its p-value.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Below this many non-zero differences the sign-flip distribution is enumerated exactly (2**16 = 65,536 sums).
EXACT_UP_TO = 16


@dataclass(frozen=True)
class PairedDifference:
    """Mean of ``b − a`` over paired questions, its bootstrap confidence interval and the randomization p-value."""

    n: int
    mean: float
    low: float
    high: float
    p_value: float
    up: int  # questions where b > a
    down: int  # questions where b < a

    def describe(self) -> str:
        return (
            f"{self.mean:+.3f} (95% CI {self.low:+.3f} to {self.high:+.3f}; p = {self.p_value:.3f}, "
            f"paired randomization test; {self.up} up, {self.down} down, {self.n - self.up - self.down} unchanged)"
        )


def randomization_p_value(diffs: Sequence[float], trials: int = 20_000, seed: int = 0) -> float:
    """Two-sided p-value of Fisher's paired randomization (sign-flip) test that the mean difference is zero.

    Exact when at most ``EXACT_UP_TO`` differences are non-zero; otherwise ``trials`` random sign flips (the
    observed assignment counted once, so the p-value is never 0).
    """
    d = np.asarray([x for x in diffs if x != 0.0], dtype=np.float64)
    if len(d) == 0:
        return 1.0
    observed = abs(d.sum())
    # A tolerance so that sums equal to the observed one up to rounding count as "as extreme".
    tol = 1e-12 * max(1.0, float(np.abs(d).sum()))
    if len(d) <= EXACT_UP_TO:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(d))))
        sums = np.abs(signs @ d)
        return float(np.mean(sums >= observed - tol))
    rng = np.random.default_rng(seed)
    signs = rng.choice((-1.0, 1.0), size=(trials, len(d)))
    extreme = int(np.sum(np.abs(signs @ d) >= observed - tol))
    return (extreme + 1) / (trials + 1)


def bootstrap_interval(
    values: Sequence[float], level: float = 0.95, trials: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampled with replacement)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        raise ValueError("no values to bootstrap")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(trials, len(v)))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    return float(np.quantile(means, tail)), float(np.quantile(means, 1.0 - tail))


def paired_difference(a: Sequence[float], b: Sequence[float], seed: int = 0) -> PairedDifference:
    """Compare per-question scores ``a`` and ``b`` (same questions, same order)."""
    if len(a) != len(b):
        raise ValueError(f"paired scores differ in length: {len(a)} and {len(b)}")
    if not a:
        raise ValueError("no paired questions to compare")
    diffs = [float(y) - float(x) for x, y in zip(a, b, strict=True)]
    low, high = bootstrap_interval(diffs, seed=seed)
    return PairedDifference(
        n=len(diffs),
        mean=float(np.mean(diffs)),
        low=low,
        high=high,
        p_value=randomization_p_value(diffs, seed=seed),
        up=sum(d > 0 for d in diffs),
        down=sum(d < 0 for d in diffs),
    )
