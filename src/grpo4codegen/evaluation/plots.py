"""Report figures as PNG bytes, drawn with matplotlib's object API (no pyplot state, no GUI backend)."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .summary import DIMENSION_KEYS
from .tables import pass_ks

_DIFFICULTY_ORDER = {"Easy": 0, "Medium": 1, "Hard": 2}


def _literal_text(draw: Callable[..., bytes]) -> Callable[..., bytes]:
    """Draw with mathtext off: model names and difficulties are shown as written, and one holding
    `$\\frac{$` (or any other broken TeX between dollars) cannot make the whole report fail."""

    @functools.wraps(draw)
    def wrapper(*args: Any, **kwargs: Any) -> bytes:
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False}):
            return draw(*args, **kwargs)

    return wrapper


def _figure(width: float = 7.0, height: float = 4.0) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, fig.add_subplot()


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _grouped_bars(ax: Any, groups: Sequence[str], series: Mapping[str, Sequence[float | None]]) -> None:
    """One bar per (group, series); None draws nothing."""
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, [v if v is not None else 0.0 for v in values], width, label=name)
    ax.set_xticks(range(len(groups)), groups)
    ax.legend(fontsize="small")


@_literal_text
def pass_at_k_plot(summaries: Mapping[str, Mapping[str, Any]]) -> bytes:
    fig, ax = _figure()
    ks = pass_ks(summaries)
    for name, s in summaries.items():
        points = [(k, s[f"pass@{k}"]) for k in ks if s.get(f"pass@{k}") is not None]
        ax.plot([k for k, _ in points], [v for _, v in points], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set(xlabel="k", ylabel="pass@k", ylim=(0, 1.02), title="pass@k")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _png(fig)


@_literal_text
def difficulty_plot(summaries: Mapping[str, Mapping[str, Any]]) -> bytes:
    levels = sorted(
        {lv for s in summaries.values() for lv in s.get("by_difficulty", {})},
        key=lambda lv: (_DIFFICULTY_ORDER.get(lv, 3), lv),
    )
    series = {
        name: [(s["by_difficulty"].get(lv) or {}).get("pass@1") for lv in levels]
        for name, s in summaries.items()
    }
    fig, ax = _figure()
    _grouped_bars(ax, levels, series)
    ax.set(ylabel="pass@1", ylim=(0, 1.02), title="pass rate by difficulty")
    return _png(fig)


@_literal_text
def efficiency_plot(samples: Mapping[str, Mapping[str, Sequence[float]]], problems: int) -> bytes:
    """Distributions of per-sample ratios (1 = as efficient as the reference): combined, then per metric.

    `samples[panel][model]` holds the ratios of one panel ("combined", "time", ...) for one model.
    """
    from matplotlib.figure import Figure

    panels = [p for p, per_model in samples.items() if any(per_model.values())]
    if not panels:
        fig, ax = _figure()
        ax.text(
            0.5,
            0.5,
            "no problem was solved by every model:\nno like-for-like efficiency comparison",
            ha="center",
            va="center",
        )
        ax.set_axis_off()
        return _png(fig)
    fig = Figure(figsize=(max(7.0, 2.5 * len(panels) + 1), 4.0), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, panel in zip(axes, panels, strict=True):
        per_model = samples.get(panel, {})
        names = list(per_model)
        ax.boxplot([list(per_model[n]) or [float("nan")] for n in names], showmeans=True)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=20)
        ax.set(title=panel, ylim=(0, 1.05))
        ax.grid(alpha=0.3, axis="y")
    axes[0].set_ylabel("reference / candidate")
    fig.suptitle(f"efficiency ratios on {problems} problems every model solved")
    return _png(fig)


@_literal_text
def dimensions_plot(summaries: Mapping[str, Mapping[str, Any]]) -> bytes:
    dims = [d for d in DIMENSION_KEYS if any(s["dimensions"].get(d) is not None for s in summaries.values())]
    series = {name: [s["dimensions"].get(d) for d in dims] for name, s in summaries.items()}
    fig, ax = _figure(8.0, 4.0)
    _grouped_bars(ax, dims, series)
    ax.set(ylabel="mean score per sample", ylim=(0, 1.02), title="per-dimension scores")
    return _png(fig)
