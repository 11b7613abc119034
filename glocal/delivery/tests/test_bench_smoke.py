"""The P1 benchmark still runs on a tiny data set (figures are never asserted in tests)."""

from bench import bench_pressure


def test_p1_reference_query_and_oracle_agree_with_arbitrate():
    same_as_duckdb, same_as_oracle = bench_pressure.check(contacts=400)
    assert same_as_duckdb and same_as_oracle
