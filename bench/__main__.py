"""Run the registered benchmarks and merge their figures into ``reports/bench.json``.

Usage: ``python -m bench [NAME ...] [--out PATH] [--list]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench import DEFAULT_OUT, REGISTRY, discover, environment, merge_json


def _fmt(x: object) -> str:
    if isinstance(x, float):
        return f"{x:,.4g}" if abs(x) < 1e4 else f"{x:,.3e}"
    return str(x)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the benchmarks, merge the figures; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"JSON to merge into ({DEFAULT_OUT})"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)

    names = discover()
    if args.list:
        print("\n".join(names))
        return 0
    unknown = [n for n in args.names if n not in REGISTRY]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; known: {names}", file=sys.stderr)
        return 1
    selected = args.names or names

    updates: dict[str, object] = {}
    for name in selected:
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        res = REGISTRY[name]()
        elapsed = time.perf_counter() - t0
        for c in res.comparisons:
            v, b, r = res.figures[c.value], res.figures[c.baseline], res.figures[c.ratio]
            print(
                f"  {c.value} = {_fmt(v)}   baseline {c.baseline} = {_fmt(b)}"
                f"   ratio {c.ratio} = {_fmt(r)}"
            )
        shown = {k for c in res.comparisons for k in (c.value, c.baseline, c.ratio)}
        for k, v in res.figures.items():
            if k not in shown:
                print(f"  {k} = {_fmt(v)}")
        print(f"  ({elapsed:.1f} s)", flush=True)
        updates.update(res.figures)
        updates[name] = {**res.details, "elapsed_s": round(elapsed, 3)}
    updates["environment"] = environment()
    merge_json(args.out, updates)
    print(f"merged {len(updates)} keys into {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
