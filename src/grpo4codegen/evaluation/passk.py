"""The unbiased pass@k estimator of Chen et al. (2021), "Evaluating Large Language Models Trained on Code".

For a problem with n samples of which c pass, pass@k = 1 - C(n-c, k) / C(n, k): the chance that k
samples drawn without replacement include a passing one. The ratio of binomials is evaluated as a
product, which neither overflows nor loses precision for large n.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

#: the k values reported, as far as the number of samples allows
STANDARD_KS: tuple[int, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem; needs 1 <= k <= n and 0 <= c <= n."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    # C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k / i)
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def ks_for(n: int) -> list[int]:
    """The standard k values a problem set with (at least) n samples per problem supports."""
    return [k for k in STANDARD_KS if k <= n]


def mean_pass_at_k(counts: Sequence[tuple[int, int]], ks: Iterable[int] | None = None) -> dict[int, float]:
    """pass@k averaged over problems given (n, c) per problem, for each k every problem allows."""
    if not counts:
        return {}
    smallest = min(n for n, _ in counts)
    wanted = ks_for(smallest) if ks is None else [k for k in ks if 1 <= k <= smallest]
    return {k: math.fsum(pass_at_k(n, c, k) for n, c in counts) / len(counts) for k in wanted}
