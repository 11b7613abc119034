"""Glocal benchmarks: ratios against a reference measured in the same run (see docs/performance.md).

Each benchmark module registers a function with :func:`benchmark`; it receives ``quick`` (small size)
and returns a :class:`Result`. ``python -m bench [--quick] [--id ID]`` runs them, prints one summary line
each and writes ``bench/results/<ID>.json``.
"""

from __future__ import annotations

import json
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
REGISTRY: dict[str, Callable[[bool], Result]] = {}


@dataclass
class Result:
    id: str
    ours: float
    reference: float
    unit: str
    target: str
    dataset: str
    runs: int
    higher_is_better: bool
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0

    @property
    def ratio(self) -> float:
        return self.ours / self.reference if self.reference else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": round(self.ratio, 4)}


def benchmark(bench_id: str) -> Callable[[Callable[[bool], Result]], Callable[[bool], Result]]:
    def register(func: Callable[[bool], Result]) -> Callable[[bool], Result]:
        REGISTRY[bench_id] = func
        return func

    return register


def interleaved(
    ours: Callable[[], Any], reference: Callable[[], Any], runs: int = 5, warmup: int = 1
) -> tuple[float, float]:
    """Median wall seconds of ``ours`` and ``reference``, run A B A B after a warm-up."""
    for _ in range(warmup):
        ours()
        reference()
    a, b = [], []
    for _ in range(runs):
        start = time.perf_counter()
        ours()
        a.append(time.perf_counter() - start)
        start = time.perf_counter()
        reference()
        b.append(time.perf_counter() - start)
    return statistics.median(a), statistics.median(b)


def run(bench_id: str, quick: bool) -> Result:
    start_cpu = time.process_time()
    result = REGISTRY[bench_id](quick)
    result.cpu_s = round(time.process_time() - start_cpu, 3)
    result.peak_rss_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{bench_id}.json").write_text(json.dumps(result.as_dict(), indent=2))
    return result
