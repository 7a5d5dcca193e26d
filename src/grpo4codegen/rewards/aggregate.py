"""Combine per-dimension rewards into the one scalar GRPO trains on, and describe how informative each is.

Every reward dimension yields, per completion, a float in [0, 1] or ``None``. ``None`` means the
machinery failed (the sandbox died, a server timed out) or the dimension could not be measured (no
reference profile): never the candidate's fault. `aggregate` treats ``None`` exactly as TRL (>= 1.6)
does with the per-dimension reward functions: a completion whose every dimension is ``None`` is
unscorable (reward ``None``, no advantage); otherwise a ``None`` dimension contributes nothing.

The correctness rule lives here, in `gate_quality`, and nowhere else: the quality dimensions
(efficiency, comment, maintainability) score only code that passes every test; code that fails a
test scores 0 on each of them. A failing completion is then dominated by a passing one of the same
problem in every dimension (correctness strictly), so every aggregation that is increasing in each
dimension with a positive correctness weight ranks the passing one higher: the fixed weighted sum,
the per-group ``normalize_then_sum`` (a per-group increasing transform of each dimension) and the
weight net (whose correctness weight never drops).

This module must stay importable without torch: the evaluation and server paths use it too.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Hashable, Mapping, Sequence

logger = logging.getLogger(__name__)

#: the reward dimensions, in canonical order
DIMENSIONS: tuple[str, ...] = ("correctness", "efficiency", "comment", "maintainability")

#: prior weights used when the user gives none; correctness dominates because it is what we want
DEFAULT_WEIGHTS: dict[str, float] = {
    "correctness": 0.5,
    "efficiency": 0.2,
    "comment": 0.2,
    "maintainability": 0.1,
}

#: the dimensions that order completions of equal correctness; they score only code that passes every test
QUALITY_DIMENSIONS: tuple[str, ...] = ("efficiency", "comment", "maintainability")

#: how `aggregate` may combine dimensions
AGGREGATION_MODES: tuple[str, ...] = ("weighted_sum", "normalize_then_sum")

#: added to a group's std before dividing, as TRL does, so a zero-spread group maps to 0 not inf
NORM_EPS = 1e-4

#: a group whose values differ by no more than this has "zero spread" (GRPO learns nothing from it)
SPREAD_TOL = 1e-9

#: what `constant_fallback` hands out
FALLBACK_REWARD = 0.5

_fallback_logged = False


def gate_quality(values: Mapping[str, float | None], all_passed: bool | None) -> dict[str, float | None]:
    """THE correctness rule: quality dimensions are worth something only for code that passes every test.

    Returns `values` with every quality dimension of failing code set to 0, measured or not (wrong
    code's quality needs no measurement; a None there would count as the group's average under
    per-group normalisation and could lift wrong code above right code). `all_passed` None (an
    infrastructure failure: nothing is known) leaves the values alone. With this rule, under any
    non-negative weights with a positive correctness weight, a completion passing every test
    outscores every completion of the same problem that fails one: it is at least as good in every
    dimension and strictly better in correctness. Quality then orders the passing completions; wrong
    code gains nothing from comments, structure or speed (which would teach a policy to polish wrong
    code, or to skip heavy inputs).
    """
    out = dict(values)
    if all_passed is False:
        for d in QUALITY_DIMENSIONS:
            if d in out:
                out[d] = 0.0
    return out


def _check_dimensions(names: Sequence[str], what: str) -> None:
    unknown = [n for n in names if n not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown reward dimension(s) in {what}: {unknown}; choose from {list(DIMENSIONS)}")


def _ordered(names: Sequence[str]) -> list[str]:
    """Canonical order, so weight vectors line up the same way everywhere."""
    wanted = set(names)
    return [d for d in DIMENSIONS if d in wanted]


def parse_fixed_weights(spec: str | Mapping[str, float] | None, enabled: Sequence[str]) -> dict[str, float]:
    """Turn a user weight spec into weights over exactly the enabled dimensions, summing to 1.

    `spec` is a JSON object string, a mapping, or None/"" for `DEFAULT_WEIGHTS`. Weights of dimensions
    that are not enabled are dropped before renormalising, so one spec serves any subset of rewards.
    Every enabled dimension must have a weight (0 is allowed) so nothing is silently guessed.
    Returns {} when nothing is enabled (the caller then uses `constant_fallback`).
    """
    _check_dimensions(list(enabled), "enabled dimensions")
    dims = _ordered(enabled)
    if not dims:
        return {}

    if spec is None or (isinstance(spec, str) and not spec.strip()):
        raw: Mapping[str, object] = DEFAULT_WEIGHTS
    elif isinstance(spec, str):
        try:
            loaded = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"reward weights are not valid JSON ({exc.msg} at char {exc.pos}): {spec!r}"
            ) from exc
        if not isinstance(loaded, dict):
            raise ValueError(
                f"reward weights must be a JSON object mapping dimension -> weight, got {spec!r}"
            )
        raw = loaded
    elif isinstance(spec, Mapping):
        raw = spec
    else:
        raise ValueError(f"reward weights must be a JSON string or a mapping, got {type(spec).__name__}")

    _check_dimensions([str(k) for k in raw], "reward weights")
    weights: dict[str, float] = {}
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"weight for {name!r} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"weight for {name!r} must be finite, got {value!r}")
        if value < 0:
            raise ValueError(f"weight for {name!r} must be >= 0, got {value!r}")
        weights[str(name)] = value

    missing = [d for d in dims if d not in weights]
    if missing:
        raise ValueError(
            f"reward weights give no weight for enabled dimension(s) {missing}; "
            "add them (0 is allowed) or disable them"
        )
    total = math.fsum(weights[d] for d in dims)
    if total <= 0:
        raise ValueError(
            f"reward weights over the enabled dimensions {dims} are all zero; nothing to train on"
        )
    return {d: weights[d] / total for d in dims}


def _check_scores(
    scores: Mapping[str, Sequence[float | None]], dims: Sequence[str], group_ids: Sequence[Hashable] | None
) -> int:
    """Validate shapes and values; return the number of completions."""
    missing = [d for d in dims if d not in scores]
    if missing:
        raise ValueError(f"no scores for weighted dimension(s) {missing}")
    lengths = {d: len(scores[d]) for d in dims}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"dimensions have different numbers of scores: {lengths}")
    n = next(iter(lengths.values())) if lengths else 0
    if group_ids is not None and len(group_ids) != n:
        raise ValueError(f"{len(group_ids)} group ids for {n} completions")
    for d in dims:
        for i, x in enumerate(scores[d]):
            if x is not None and not math.isfinite(x):
                raise ValueError(f"score {i} of {d!r} is {x!r}; use None for a failed measurement")
    return n


def _groups(group_ids: Sequence[Hashable] | None, n: int) -> list[list[int]]:
    """Indices per group, in first-seen order; no ids means the whole batch is one group."""
    if group_ids is None:
        return [list(range(n))] if n else []
    by_id: dict[Hashable, list[int]] = {}
    for i, g in enumerate(group_ids):
        by_id.setdefault(g, []).append(i)
    return list(by_id.values())


def _mean(xs: Sequence[float]) -> float:
    return math.fsum(xs) / len(xs)


def _pstd(xs: Sequence[float]) -> float:
    """Population std: defined for one value (0), which suits descriptive statistics."""
    m = _mean(xs)
    return math.sqrt(math.fsum((x - m) ** 2 for x in xs) / len(xs))


def _sample_std(xs: Sequence[float]) -> float:
    """Bessel-corrected std, as TRL's `nanstd`; a lone value has no spread, so 0."""
    if len(xs) < 2:
        return 0.0
    m = _mean(xs)
    return math.sqrt(math.fsum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def aggregate(
    scores: Mapping[str, Sequence[float | None]],
    weights: Mapping[str, float],
    group_ids: Sequence[Hashable] | None = None,
    mode: str = "weighted_sum",
) -> list[float | None]:
    """One reward per completion from the enabled (= weighted) dimensions.

    ``weighted_sum``: sum_d w_d * x_d. GRPO then normalises the sum within each group.
    ``normalize_then_sum`` (GDPO, TRL's ``multi_objective_aggregation="normalize_then_sum"``): within
    each group every dimension becomes (x - mean) / (std + 1e-4) first (Bessel std, as TRL), so a
    dimension with a wide spread cannot drown out one with a narrow spread; then the weighted sum.
    ``None`` as in TRL: a completion with every dimension ``None`` gets ``None``; otherwise a ``None``
    dimension adds nothing (and is left out of that dimension's group statistics). Without
    `group_ids` the whole batch counts as one group.
    """
    if mode not in AGGREGATION_MODES:
        raise ValueError(f"unknown aggregation mode {mode!r}; choose from {list(AGGREGATION_MODES)}")
    if not weights:
        raise ValueError("no reward dimension is weighted; use constant_fallback() when none is enabled")
    _check_dimensions(list(weights), "weights")
    for d, w in weights.items():
        if not math.isfinite(w):
            raise ValueError(f"weight for {d!r} is {w!r}")
    dims = _ordered(list(weights))
    n = _check_scores(scores, dims, group_ids)

    scorable = [any(scores[d][i] is not None for d in dims) for i in range(n)]
    out: list[float | None] = [None] * n

    if mode == "weighted_sum":
        for i in range(n):
            if scorable[i]:
                out[i] = math.fsum(weights[d] * float(scores[d][i]) for d in dims if scores[d][i] is not None)  # type: ignore[arg-type]
        return out

    for members in _groups(group_ids, n):
        normed: dict[str, dict[int, float]] = {}
        for d in dims:
            ok = [i for i in members if scores[d][i] is not None]
            if not ok:
                normed[d] = {}
                continue
            xs = [float(scores[d][i]) for i in ok]  # type: ignore[arg-type]
            m, s = _mean(xs), _sample_std(xs)
            normed[d] = {i: (x - m) / (s + NORM_EPS) for i, x in zip(ok, xs, strict=True)}
        for i in members:
            if scorable[i]:
                out[i] = math.fsum(weights[d] * normed[d][i] for d in dims if i in normed[d])
    return out


def constant_fallback(n: int) -> list[float]:
    """Rewards for when no dimension is enabled: all 0.5, so the pipeline still runs.

    Every completion of a group gets the same reward, so every advantage is 0 and the policy does
    not move; we say so loudly (once in the log; `warnings` de-duplicates its own output).
    """
    global _fallback_logged
    message = (
        "no reward dimension is enabled: every completion gets a constant reward of 0.5, "
        "so all GRPO advantages are zero and training learns nothing"
    )
    warnings.warn(message, RuntimeWarning, stacklevel=2)
    if not _fallback_logged:
        logger.warning(message)
        _fallback_logged = True
    return [FALLBACK_REWARD] * n


#: keys of each dimension's entry in `dimension_stats`
STAT_KEYS: tuple[str, ...] = ("mean", "std", "group_std", "cv", "saturated_frac", "none_frac")


def dimension_stats(
    scores: Mapping[str, Sequence[float | None]], group_ids: Sequence[Hashable] | None = None
) -> dict[str, dict[str, float]]:
    """Per-dimension batch statistics, for logging and as the weight net's input.

    For each dimension (ignoring its own Nones): ``mean`` and ``std`` over the batch (population std);
    ``group_std``: mean over groups of the within-group population std, the part GRPO can learn from;
    ``cv``: std / mean (0 when the mean is ~0); ``saturated_frac``: fraction of groups (with any
    scored completion) whose values have zero spread, so the dimension adds nothing to their
    advantages; ``none_frac``: fraction of completions this dimension failed to score.
    A dimension with no scored completion reports zeros, saturated_frac 1 and none_frac 1.
    """
    stats: dict[str, dict[str, float]] = {}
    for d, values in scores.items():
        n = len(values)
        if group_ids is not None and len(group_ids) != n:
            raise ValueError(f"{len(group_ids)} group ids for {n} scores of {d!r}")
        present = [float(x) for x in values if x is not None]
        none_frac = (n - len(present)) / n if n else 0.0
        if not present:
            stats[d] = dict.fromkeys(STAT_KEYS, 0.0) | {"saturated_frac": 1.0, "none_frac": none_frac}
            continue
        mean, std = _mean(present), _pstd(present)
        group_stds: list[float] = []
        saturated = 0
        for members in _groups(group_ids, n):
            xs = [float(values[i]) for i in members if values[i] is not None]  # type: ignore[arg-type]
            if not xs:
                continue
            group_stds.append(_pstd(xs))
            if max(xs) - min(xs) <= SPREAD_TOL:
                saturated += 1
        stats[d] = {
            "mean": mean,
            "std": std,
            "group_std": _mean(group_stds),
            "cv": std / abs(mean) if abs(mean) > 1e-12 else 0.0,
            "saturated_frac": saturated / len(group_stds),
            "none_frac": none_frac,
        }
    return stats
