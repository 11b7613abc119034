"""The A1 benchmark still runs (tiny size; figures are never asserted in tests)."""

import pytest

from bench import bench_audience


@pytest.mark.django_db
def test_a1_benchmark_runs_and_agrees_with_the_hand_written_query():
    org = bench_audience.dataset(stores=3, contacts=300)
    figures = bench_audience.measure(org, runs=1)
    assert figures["stores_counted"] == 3 and figures["contacts"] == 300
