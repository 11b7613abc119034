import argparse
import importlib
import os
import pkgutil
import sys
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--id", help="one benchmark id (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes")
    options = parser.parse_args()
    import bench

    for module in pkgutil.iter_modules([str(Path(bench.__file__).parent)]):
        if module.name.startswith("bench_"):
            importlib.import_module(f"bench.{module.name}")
    ids = [options.id] if options.id else sorted(bench.REGISTRY)
    unknown = [i for i in ids if i not in bench.REGISTRY]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(sorted(bench.REGISTRY))}")
        return 2
    for bench_id in ids:
        r = bench.run(bench_id, options.quick)
        print(
            f"{r.id}: ratio {r.ratio:.3f} (target {r.target}) — ours {r.ours:.6g} {r.unit}, reference "
            f"{r.reference:.6g} {r.unit}, {r.dataset}, {r.runs} runs, cpu {r.cpu_s}s, peak {r.peak_rss_mb} MB"
            + (f" — {r.notes}" if r.notes else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
