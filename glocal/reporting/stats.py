"""Treated against control: the incremental effect of a campaign and how sure we can be of it (pure).

- **Rates**: converters / group size, for the treated (messaged) and the control (held-out) groups.
- **Difference** d = p_t − p_c, with its 95 % confidence interval by Newcombe's hybrid score method
  (method 10 of Newcombe 1998): the Wilson score interval of each proportion, combined as
  ``d − sqrt((p_t − l_t)² + (u_c − p_c)²)`` … ``d + sqrt((u_t − p_t)² + (p_c − l_c)²)``. Unlike the normal
  approximation (Wald), it stays sensible with a handful of conversions and never leaves [−1, 1].
- **Incremental conversions** = d × n_t (what the treated would not have done without the campaign);
  **incremental revenue** = revenue_t − revenue_c × n_t / n_c (the control's revenue scaled to the
  treated group's size).
- **Minimum detectable effect** (two-sided 5 %, power 80 %) for these group sizes, at the pooled rate
  p̄: ``(z_0.975 + z_0.80) × sqrt(p̄ (1 − p̄) (1/n_t + 1/n_c))``.
- **Conclusive** when the interval leaves out 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from statistics import NormalDist

Z_95 = NormalDist().inv_cdf(0.975)  # 1.959964…
Z_POWER_80 = NormalDist().inv_cdf(0.80)  # 0.841621…


def wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson's score interval of a proportion; (0, 1) for an empty group."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x_t: int, n_t: int, x_c: int, n_c: int, z: float = Z_95) -> tuple[float, float]:
    """Newcombe's hybrid score interval of p_t − p_c."""
    p_t, p_c = x_t / n_t, x_c / n_c
    l_t, u_t = wilson(x_t, n_t, z)
    l_c, u_c = wilson(x_c, n_c, z)
    d = p_t - p_c
    return d - math.sqrt((p_t - l_t) ** 2 + (u_c - p_c) ** 2), d + math.sqrt(
        (u_t - p_t) ** 2 + (p_c - l_c) ** 2
    )


def minimum_detectable_effect(n_t: int, n_c: int, pooled: float) -> float:
    """The smallest difference of proportions these group sizes detect (two-sided 5 %, power 80 %)."""
    spread = pooled * (1 - pooled) if 0 < pooled < 1 else 0.25  # no conversion yet: the worst case
    return (Z_95 + Z_POWER_80) * math.sqrt(spread * (1 / n_t + 1 / n_c))


@dataclass(frozen=True)
class Lift:
    treated: int
    treated_converted: int
    control: int
    control_converted: int
    treated_revenue: Decimal
    control_revenue: Decimal

    @property
    def treated_rate(self) -> float:
        return self.treated_converted / self.treated

    @property
    def control_rate(self) -> float:
        return self.control_converted / self.control

    @property
    def difference(self) -> float:
        return self.treated_rate - self.control_rate

    @property
    def interval(self) -> tuple[float, float]:
        return newcombe(self.treated_converted, self.treated, self.control_converted, self.control)

    @property
    def conclusive(self) -> bool:
        low, high = self.interval
        return low > 0 or high < 0

    @property
    def incremental_conversions(self) -> float:
        return self.difference * self.treated

    @property
    def incremental_revenue(self) -> Decimal:
        scaled = self.control_revenue * Decimal(self.treated) / Decimal(self.control)
        return (self.treated_revenue - scaled).quantize(Decimal("0.01"))

    @property
    def mde(self) -> float:
        pooled = (self.treated_converted + self.control_converted) / (self.treated + self.control)
        return minimum_detectable_effect(self.treated, self.control, pooled)


def lift(
    treated: int,
    treated_converted: int,
    control: int,
    control_converted: int,
    treated_revenue: Decimal = Decimal(0),
    control_revenue: Decimal = Decimal(0),
) -> Lift | None:
    """The comparison, or None when either group is empty (no control group: nothing to compare)."""
    if treated <= 0 or control <= 0:
        return None
    return Lift(
        treated,
        min(treated_converted, treated),
        control,
        min(control_converted, control),
        Decimal(treated_revenue),
        Decimal(control_revenue),
    )
