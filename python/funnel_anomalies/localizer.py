"""Root causes of one anomalous hour in combinations of dimension values: pure functions,
leaves in, elements out.

A leaf is one combination of every dimension's value (iOS x US x google x cpc) with its
actual and expected value. An element is a value or a combination of values at any
depth (`device=iOS`, `device=iOS&utm_source=fbig`); it covers the leaves that hold all of
its values. The localizer looks for the smallest set of elements that explains the
deviation while every leaf outside them behaves as expected.

How, as model selection. Each leaf's actual value is its expectation, times a factor
where an element of the set covers it, plus noise whose variance is `f + (r f)^2` (a
count's Poisson noise and noise proportional to the level, `r` estimated from the leaves
themselves). Letting one element's leaves move by a factor of their own improves the
weighted least squares of the fit by `(sum of w f (v - f))^2 / sum of w f^2` over its
leaves (w = 1 / variance): the square of the z-score of "these leaves moved together".
The localizer adds, one at a time, the element that improves the fit most, its leaves
then explained, and stops when the best improvement no longer passes what the largest of
that many candidates would reach by chance (Bonferroni: the chi-squared quantile at
FALSE_ELEMENT_RISK over the number of candidates, so a search adds an element of noise
with chance at most 1%). An element that mixes moved and unmoved leaves improves the fit
less than its moved leaves alone, so the search lands on the combination that moved; a
segment that carries most of the traffic is found when everything outside it is normal,
since its improvement counts its own leaves' joint move, not a share. Among equal
improvements the shallower element is kept (the simpler explanation). The noise is
estimated again from the leaves outside the set found, and the search repeated until the
set is stable: a dominant segment's leaves would otherwise inflate the noise that judges
it. Leaves expected at zero cannot move by a factor, so an element made only of them (a
value never seen before) is not found here.

The reading of the literature behind it (written here, nothing copied): Adtributor's
explanatory power (the share of the deviation an element explains, reported here as
`explained`), HotSpot's and RiskLoc's leaves-as-combinations search space, Squeeze's
observation that a root cause's leaves deviate by a common ratio.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2

MAX_DEPTH = 3
MAX_ELEMENTS = 10
MAX_ROUNDS = 4
FALSE_ELEMENT_RISK = 0.01
# The median of a chi-squared variable of one degree of freedom: turns the median squared
# standardized deviation into a variance estimate that a minority of moved leaves
# cannot move far.
CHI2_1_MEDIAN = 0.454936


@dataclass(frozen=True)
class Element:
    """A value or combination of values (`parts`, in the dimensions' order), the share of
    the total deviation its leaves hold, and the factor they moved by together."""

    parts: tuple[tuple[str, str], ...]
    explained: float
    factor: float
    improvement: float

    @property
    def depth(self) -> int:
        return len(self.parts)

    def notation(self) -> str:
        return "&".join(f"{dimension}={value}" for dimension, value in self.parts)


def format_elements(elements: list[Element]) -> str:
    """The field's notation: elements separated by `;`, each `dimension=value` by `&`."""
    return ";".join(element.notation() for element in elements)


@dataclass(frozen=True)
class _Candidates:
    """Every element that covers at least one leaf: for each, its parts and which leaves."""

    parts: list[tuple[tuple[str, str], ...]]
    group_of_leaf: list[np.ndarray]  # per grouping of dimensions: each leaf's group
    groupings: list[tuple[int, int]]  # per grouping: (first candidate, number of groups)


def _candidates(leaves: pd.DataFrame, dimensions: list[str], max_depth: int) -> _Candidates:
    codes = {}
    labels = {}
    for dimension in dimensions:
        factorized, uniques = pd.factorize(leaves[dimension].astype(str), sort=True)
        codes[dimension], labels[dimension] = factorized.astype(np.int64), list(uniques)
    parts: list[tuple[tuple[str, str], ...]] = []
    group_of_leaf = []
    groupings = []
    for depth in range(1, min(max_depth, len(dimensions)) + 1):
        for combination in itertools.combinations(dimensions, depth):
            key = np.zeros(len(leaves), dtype=np.int64)
            for dimension in combination:
                key = key * len(labels[dimension]) + codes[dimension]
            unique_keys, group = np.unique(key, return_inverse=True)
            groupings.append((len(parts), len(unique_keys)))
            group_of_leaf.append(group)
            for packed in unique_keys:
                values = []
                for dimension in reversed(combination):
                    size = len(labels[dimension])
                    values.append((dimension, labels[dimension][packed % size]))
                    packed //= size
                parts.append(tuple(reversed(values)))
    return _Candidates(parts, group_of_leaf, groupings)


def _relative_noise(actual: np.ndarray, expected: np.ndarray, outside: np.ndarray) -> float:
    """r in variance = f + (r f)^2, from the median standardized square of the leaves
    `outside` the elements found so far."""
    if outside.sum() < 3:
        return 0.0
    f = np.maximum(expected[outside], 1e-9)
    excess = (np.square(actual[outside] - f) / CHI2_1_MEDIAN - np.maximum(f, 1.0)) / np.square(f)
    return float(np.sqrt(max(np.median(excess), 0.0)))


@dataclass(frozen=True)
class _Chosen:
    candidate: int
    factor: float
    improvement: float
    leaves: np.ndarray  # which leaves the element covers


def _select(
    actual: np.ndarray, expected: np.ndarray, candidates: _Candidates, relative_noise: float
) -> list[_Chosen]:
    """Greedy forward selection, in the order chosen. A chosen element's leaves are
    explained: later elements are judged on the rest only."""
    variance = np.maximum(expected, 1.0) + np.square(relative_noise * expected)
    weight = 1.0 / np.maximum(variance, 1e-12)
    # An improvement is the square of a standard normal for an element whose leaves did
    # not move: the largest of that many must pass what one reaches with chance
    # FALSE_ELEMENT_RISK / candidates (Bonferroni), so a search adds a spurious element
    # with chance at most FALSE_ELEMENT_RISK.
    penalty = float(chi2.isf(FALSE_ELEMENT_RISK / max(len(candidates.parts), 1), 1))
    chosen: list[_Chosen] = []
    for _ in range(MAX_ELEMENTS):
        moved = weight * expected * (actual - expected)
        scale = weight * np.square(expected)
        best = (0.0, -1, 1.0)  # improvement, candidate, factor
        for (first, groups), group in zip(
            candidates.groupings, candidates.group_of_leaf, strict=True
        ):
            numerator = np.bincount(group, moved, minlength=groups)
            denominator = np.bincount(group, scale, minlength=groups)
            with np.errstate(divide="ignore", invalid="ignore"):
                improvement = np.where(denominator > 0, numerator**2 / denominator, 0.0)
            index = int(np.argmax(improvement))
            # Strictly greater: groupings come shallow first, so a tie keeps the shallower.
            if improvement[index] > best[0] * (1 + 1e-9):
                factor = 1.0 + numerator[index] / denominator[index]
                best = (float(improvement[index]), first + index, float(factor))
        improvement, candidate, factor = best
        if candidate < 0 or improvement <= penalty:
            break
        leaves = _leaves_of(candidates, candidate)
        chosen.append(_Chosen(candidate, factor, improvement, leaves))
        weight = np.where(leaves, 0.0, weight)
    return chosen


def _leaves_of(candidates: _Candidates, candidate: int) -> np.ndarray:
    for (first, groups), group in zip(candidates.groupings, candidates.group_of_leaf, strict=True):
        if first <= candidate < first + groups:
            return group == candidate - first
    raise IndexError(candidate)


def localize(
    leaves: pd.DataFrame,
    dimensions: list[str],
    actual: str = "real",
    expected: str = "predict",
    max_depth: int = MAX_DEPTH,
) -> list[Element]:
    """The smallest set of elements that explains how `actual` deviates from `expected`
    over `leaves` (one row per combination of the `dimensions`' values), largest share of
    the deviation first. Empty when no element moved beyond what noise explains."""
    if leaves.empty:
        return []
    values = leaves[actual].to_numpy(dtype=float)
    expectations = np.maximum(leaves[expected].to_numpy(dtype=float), 0.0)
    candidates = _candidates(leaves, dimensions, max_depth)
    outside = np.ones(len(leaves), dtype=bool)
    chosen: list[_Chosen] = []
    previous: set[int] | None = None
    for _ in range(MAX_ROUNDS):
        noise = _relative_noise(values, expectations, outside)
        chosen = _select(values, expectations, candidates, noise)
        found = {element.candidate for element in chosen}
        if found == previous:
            break
        previous = found
        outside = np.ones(len(leaves), dtype=bool)
        for element in chosen:
            outside &= ~element.leaves
    total_deviation = float(np.sum(values - expectations))
    elements = []
    explained_already = np.zeros(len(leaves), dtype=bool)
    for element in chosen:
        # In the order chosen, each element explains the deviation of the leaves no element
        # before it took, as the selection judged it.
        leaves_in = element.leaves & ~explained_already
        explained_already |= leaves_in
        deviation = float(np.sum(values[leaves_in] - expectations[leaves_in]))
        explained = deviation / total_deviation if total_deviation else 0.0
        elements.append(
            Element(
                candidates.parts[element.candidate], explained, element.factor, element.improvement
            )
        )
    return sorted(elements, key=lambda element: -abs(element.explained))
