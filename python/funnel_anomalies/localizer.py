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
from scipy.special import ndtri, xlogy

MAX_DEPTH = 3
MAX_ELEMENTS = 10
MAX_ROUNDS = 4
FALSE_ELEMENT_RISK = 0.01
# The noise is fitted on the lower quartile of the leaves' squared standardized
# deviations, where a chi-squared variable of one degree of freedom has this value: moved
# leaves only ever raise squares, so even when they are most of the large leaves (iOS
# traffic gone, a third of a shop) the quartile still sees unmoved ones.
NOISE_QUANTILE = 0.25
CHI2_1_AT_NOISE_QUANTILE = float(ndtri((1 + NOISE_QUANTILE) / 2) ** 2)


def chi2_1_beyond(risk: float) -> float:
    """The value a chi-squared variable of one degree of freedom (a standard normal's
    square) exceeds with chance `risk`. Written with the normal's quantile: scipy.stats
    takes a second to import, in every build's dbt Python model."""
    return float(ndtri(1.0 - risk / 2.0) ** 2)


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


@dataclass(frozen=True)
class Noise:
    """A leaf's noise variance, `dispersion * f + (relative * f)^2`: a count's own
    noise, widened where one visit makes several events (product views per session), and
    noise proportional to the level (a leaf's expectation is itself an estimate)."""

    dispersion: float
    relative: float

    def variance(self, expected: np.ndarray) -> np.ndarray:
        return self.dispersion * expected + np.square(self.relative * expected)

    def smallest_scale(self) -> float:
        """What an element expected at one event weighs in the fit (see _select): no element
        is judged as if it held less, so a leaf expected at a hundredth of an event that
        gets one is no more surprising than a leaf expected at one."""
        return 1.0 / (self.dispersion + self.relative**2)


NOISE_MIN_EXPECTED = 5.0
NOISE_MIN_LEAVES_FOR_RELATIVE = 100
# The proportional noise levels the fit tries; the dispersion follows from each.
RELATIVE_NOISE_GRID = np.concatenate([[0.0], np.geomspace(0.005, 2.0, 40)])


def _noise(actual: np.ndarray, expected: np.ndarray, outside: np.ndarray) -> Noise:
    """The noise of the leaves `outside` the elements found so far, fitted on lower
    quartiles so that moved leaves cannot inflate it: for each proportional level tried,
    the dispersion that puts the quartile of standardized squares at a chi-squared(1)'s;
    of those, the pair that does so for the smaller and the larger leaves alike (small
    leaves tell the dispersion, large ones the proportional part)."""
    # Only leaves large enough for their deviations to be near normal: a smaller count's
    # quartile is set by its chance of zero, not by its variance.
    fitted = outside & (expected >= NOISE_MIN_EXPECTED)
    if fitted.sum() < 3:
        return Noise(1.0, 0.0)
    f = expected[fitted]
    squares = np.square(actual[fitted] - f) / CHI2_1_AT_NOISE_QUANTILE
    larger = f >= np.median(f)
    best, best_misfit = Noise(1.0, 0.0), np.inf
    # Too few leaves to tell a proportional part from the dispersion: the dispersion alone.
    grid = RELATIVE_NOISE_GRID if fitted.sum() >= NOISE_MIN_LEAVES_FOR_RELATIVE else [0.0]
    for relative in grid:
        excess = (squares - np.square(relative * f)) / f
        dispersion = max(float(np.quantile(excess, NOISE_QUANTILE)), 1.0)
        noise = Noise(dispersion, float(relative))
        standardized = squares / noise.variance(f)
        misfit = sum(
            abs(np.log(max(float(np.quantile(standardized[part], NOISE_QUANTILE)), 1e-12)))
            for part in (larger, ~larger)
            if part.any()
        )
        if misfit < best_misfit - 1e-12:
            best, best_misfit = noise, misfit
    return best


@dataclass(frozen=True)
class _Chosen:
    candidate: int
    factor: float
    improvement: float
    leaves: np.ndarray  # which leaves the element covers


def _select(
    actual: np.ndarray, expected: np.ndarray, candidates: _Candidates, noise: Noise
) -> list[_Chosen]:
    """Greedy forward selection, in the order chosen. A chosen element's leaves are
    explained: later elements are judged on the rest only. None when the whole hour
    moved: the best element and the rest moved by one factor as far as can be told."""
    variance = noise.variance(expected)
    weight = 1.0 / np.maximum(variance, 1e-12)
    # An improvement is the square of a standard normal for an element whose leaves did
    # not move: the largest of that many must pass what one reaches with chance
    # FALSE_ELEMENT_RISK / candidates (Bonferroni), so a search adds a spurious element
    # with chance at most FALSE_ELEMENT_RISK.
    penalty = chi2_1_beyond(FALSE_ELEMENT_RISK / max(len(candidates.parts), 1))
    smallest = noise.smallest_scale()
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
            improvement = numerator**2 / np.maximum(denominator, smallest)
            index = int(np.argmax(improvement))
            # Strictly greater: groupings come shallow first, so a tie keeps the shallower.
            if improvement[index] > best[0] * (1 + 1e-9):
                factor = 1.0 + numerator[index] / max(denominator[index], smallest)
                best = (float(improvement[index]), first + index, float(factor))
        improvement, candidate, factor = best
        if candidate < 0 or improvement <= penalty:
            break
        leaves = _leaves_of(candidates, candidate)
        if not chosen and not _moved_apart(actual, expected, leaves, noise):
            return []
        chosen.append(_Chosen(candidate, factor, improvement, leaves))
        weight = np.where(leaves, 0.0, weight)
    return chosen


def _moved_apart(
    actual: np.ndarray, expected: np.ndarray, leaves: np.ndarray, noise: Noise
) -> bool:
    """Whether an element's leaves and the rest moved by factors of their own, rather than
    all leaves by one (the hour as a whole: a holiday, a slow site). The likelihood ratio
    of the two factors against the one, for counts of the leaves' dispersion (with the
    proportional part, at the leaves' own levels), must pass what chance gives at
    FALSE_ELEMENT_RISK: one test, of the element the search chose for its move against
    the expectation, not of all candidates (it has passed the search's bound). Counts'
    likelihood, not least squares at the expected levels: when most of a shop's traffic
    vanishes, the fitted levels are far from the expected ones."""
    totals = []
    for part in (leaves, ~leaves):
        totals.append((float(actual[part].sum()), float(expected[part].sum())))
    (inside, inside_expected), (outside, outside_expected) = totals
    if min(inside_expected, outside_expected) <= 0:
        return True
    overall = (inside + outside) / (inside_expected + outside_expected)
    ratio = xlogy(inside, inside / inside_expected / overall) + xlogy(
        outside, outside / outside_expected / overall
    )
    dispersion = float(noise.variance(expected).sum()) / max(float(expected.sum()), 1e-12)
    return 2.0 * ratio / max(dispersion, 1.0) > chi2_1_beyond(FALSE_ELEMENT_RISK)


def _leaves_of(candidates: _Candidates, candidate: int) -> np.ndarray:
    for (first, groups), group in zip(candidates.groupings, candidates.group_of_leaf, strict=True):
        if first <= candidate < first + groups:
            return group == candidate - first
    raise IndexError(candidate)


NOISE_SAMPLE_LEAF_HOURS = 200_000


def leaf_noise(counts: np.ndarray, expected: np.ndarray, clean: np.ndarray) -> Noise:
    """The leaves' noise learnt from their history (leaves x hours; `clean` hours only):
    how far leaves stray from their expectation in hours nothing happened."""
    hours = np.flatnonzero(clean & (expected.sum(axis=0) > 0))
    if len(hours) == 0:
        return Noise(1.0, 0.0)
    # A sample of hours spread over the history keeps the fit quick on wide metrics.
    hours = hours[:: max(1, len(hours) * expected.shape[0] // NOISE_SAMPLE_LEAF_HOURS)]
    actual, baseline = counts[:, hours].ravel(), expected[:, hours].ravel()
    return _noise(actual, baseline, np.ones(actual.size, dtype=bool))


def _search(
    values: np.ndarray,
    baseline: np.ndarray,
    candidates: _Candidates,
    noise: Noise | None,
) -> tuple[list[_Chosen], Noise]:
    """The elements that explain how `values` deviate from `baseline`, and the noise they
    were judged with: `noise` if given, else fitted on the leaves outside the elements
    found, again until the elements are stable."""
    outside = np.ones(len(values), dtype=bool)
    chosen: list[_Chosen] = []
    previous: set[int] | None = None
    hour_noise = noise or Noise(1.0, 0.0)
    for _ in range(MAX_ROUNDS):
        hour_noise = noise or _noise(values, baseline, outside)
        chosen = _select(values, baseline, candidates, hour_noise)
        found = {element.candidate for element in chosen}
        if noise is not None or found == previous:
            break
        previous = found
        outside = _outside(chosen, len(values))
    return chosen, hour_noise


def _outside(chosen: list[_Chosen], leaves: int) -> np.ndarray:
    outside = np.ones(leaves, dtype=bool)
    for element in chosen:
        outside &= ~element.leaves
    return outside


def _rest_moved(
    values: np.ndarray, baseline: np.ndarray, outside: np.ndarray, noise: Noise
) -> bool:
    """Whether the leaves outside the elements found, together, still stray from their
    expectation further than their noise allows (at FALSE_ELEMENT_RISK)."""
    if not outside.any():
        return False
    deviation = float(np.sum(values[outside] - baseline[outside]))
    variance = float(np.sum(noise.variance(baseline[outside])))
    return deviation**2 > chi2_1_beyond(FALSE_ELEMENT_RISK) * max(variance, 1e-12)


def _without_descendants(chosen: list[_Chosen], candidates: _Candidates) -> list[_Chosen]:
    """The set without any element that refines another of it (`device=Other&geography=US`
    beside `device=Other`): the coarser one alone leaves the same leaves outside, so it is
    the smaller explanation (a crawler's few sessions land in some of its leaves only)."""
    parts = [set(candidates.parts[element.candidate]) for element in chosen]
    return [
        element
        for index, element in enumerate(chosen)
        if not any(
            other < parts[index] for position, other in enumerate(parts) if position != index
        )
    ]


def localize(
    leaves: pd.DataFrame,
    dimensions: list[str],
    actual: str = "real",
    expected: str = "predict",
    max_depth: int = MAX_DEPTH,
    noise: Noise | None = None,
) -> list[Element]:
    """The smallest set of elements that explains how `actual` deviates from `expected`
    over `leaves` (one row per combination of the `dimensions`' values), largest share of
    the deviation first. Empty when no element moved beyond what noise explains. The
    leaves' `noise`, when known from history (leaf_noise), is used as it is; otherwise it
    is fitted on this hour's leaves outside the elements found, until they are stable.

    When the leaves outside the elements found still moved, together, beyond their noise,
    the whole hour moved (a holiday, a slow site, an expectation off for everyone): the
    elements are then searched again against everything's common move, the ratio of actual
    to expected outside them, and each says how much of the deviation from the expectation
    its own leaves hold (often little: the pipeline then names no element)."""
    if leaves.empty:
        return []
    values = leaves[actual].to_numpy(dtype=float)
    expectations = np.maximum(leaves[expected].to_numpy(dtype=float), 0.0)
    candidates = _candidates(leaves, dimensions, max_depth)
    common = 1.0
    chosen, used_noise = _search(values, expectations, candidates, noise)
    outside = _outside(chosen, len(values))
    if _rest_moved(values, expectations, outside, used_noise):
        expected_outside = float(expectations[outside].sum())
        if expected_outside > 0:
            common = float(values[outside].sum()) / expected_outside
            chosen, _ = _search(values, expectations * common, candidates, noise)
    chosen = _without_descendants(chosen, candidates)
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
                candidates.parts[element.candidate],
                explained,
                element.factor * common,
                element.improvement,
            )
        )
    return sorted(elements, key=lambda element: -abs(element.explained))
