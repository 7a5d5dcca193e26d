"""Markdown tables of the steering experiments' results (docs/experiments/*.json) for docs/experiments.md.

python scripts/experiments/tables.py docs/experiments/efficiency.json [...]
"""

from __future__ import annotations

import json
import sys


def table(results: dict) -> str:
    preferred = results["preferred"]
    lines = [
        f"`{results['experiment']}` (mix `{results['mix']}`, seed {results['seed']}, commit {results['commit']}, "
        f"{results['samples_per_problem']} samples per problem x {len(results['problems'])} problems per point, "
        f"{results['seconds']:.0f} s wall, 1-min load average {results.get('load_average_1min_at_end', 0):.1f})",
        "",
        f"| run | GRPO step | share `{preferred}` | other variants | unmatched | correctness | efficiency | comment "
        "| maintainability | pass@1 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, points in results["runs"].items():
        for p in points:
            shares = p["shares"]
            others = ", ".join(f"{k} {v:.2f}" for k, v in shares.items() if k not in (preferred, "other"))
            d = p["dimensions"]
            lines.append(
                f"| {label} | {p['step']} | {shares.get(preferred, 0):.2f} | {others or '-'} | "
                f"{shares.get('other', 0):.2f} | {d['correctness']:.3f} | {d['efficiency']:.3f} | "
                f"{d['comment']:.3f} | {d['maintainability']:.3f} | {p['pass@1']:.3f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as handle:
            print(table(json.load(handle)))
            print()
