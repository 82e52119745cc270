"""`make bench`: run every benchmark module in one process, print a table of ratios, write results.json.

The machine is shared and noisy, so each figure is a median of repeats and is compared with a baseline measured
in the same run; the table shows both medians, their ranges and the ratio.

    python -m benchmarks.run [--quick] [--only cells,hashing,store,notebook,headless] [--out benchmarks/results.json]
                             [--readme README.md]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.readme import replace_section, table

MODULES = ("cells", "hashing", "frames", "store", "remote", "kernel", "notebook", "headless")


def _fmt(value: float, unit: str = "s") -> str:
    if unit != "s":
        return f"{value:.2f} {unit}"
    return f"{value * 1e3:.2f} ms" if value < 1 else f"{value:.2f} s"


def _line(r: dict[str, Any]) -> str:
    met = {True: "met", False: "MISSED", None: ""}[r["met"]]
    lo, hi = r["subject_range"]
    unit = r.get("unit", "s")
    return (f"{r['group'][:14]:<14} {r['case'][:40]:<40} {_fmt(r['subject_s'], unit):>10} "
            f"({_fmt(lo, unit)}-{_fmt(hi, unit)})  vs {r['baseline'][:28]:<28} {_fmt(r['baseline_s'], unit):>10}  "
            f"{r['ratio']:>7.3f}x  {r['goal']:<14} {met}")


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of a few seconds each")
    parser.add_argument("--only", default=",".join(MODULES), help="comma-separated benchmark modules")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    parser.add_argument("--readme", type=Path, help="write the table into this README's benchmark section")
    args = parser.parse_args(argv)
    load = f"{os.getloadavg()[0]:.1f}"
    rows: list[dict[str, Any]] = []
    for name in args.only.split(","):
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"benchmarks.{name}":
                raise
            print(f"(no benchmark module {name!r})", file=sys.stderr)
            continue
        for result in module.run(quick=args.quick):
            print(_line(result), flush=True)
            rows.append(result)
    args.out.write_text(json.dumps({"machine": machine(), "quick": args.quick, "results": rows}, indent=1))
    print(f"wrote {args.out}")
    if args.readme:
        replace_section(args.readme, "bench", table(rows, machine(), load))
    return 0


if __name__ == "__main__":
    sys.exit(main())
