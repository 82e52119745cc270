"""``nbcache run NOTEBOOK...``: parse-side checks, one execution per notebook, the summary, the exit code."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nbcache.headless import summary
from nbcache.headless.runner import NotebookRun, RunOptions, execute_notebook


def _fail(message: str) -> int:
    print(f"nbcache run: {message}", file=sys.stderr)
    return 2


def _check(args: argparse.Namespace) -> str | None:
    if args.output and len(args.notebooks) > 1:
        return "--output takes one notebook; use --inplace for several"
    missing = [n for n in args.notebooks if not Path(n).is_file()]
    if missing:
        return f"no such notebook: {missing[0]}"
    if args.min_seconds is not None and not args.min_seconds >= 0:
        return f"--min-seconds takes a number of seconds >= 0, got {args.min_seconds}"
    if args.timeout is not None and not args.timeout > 0:
        return f"--timeout takes a number of seconds > 0, got {args.timeout}"
    return None


def _one(path: Path, args: argparse.Namespace) -> NotebookRun:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    options = RunOptions(args.store, args.min_seconds, args.timeout, args.kernel)
    run = execute_notebook(nb, path, options)
    target = path if args.inplace else Path(args.output) if args.output else None
    if target is not None:
        nbformat.write(nb, target)
    return run


def run_notebooks(args: argparse.Namespace) -> int:
    problem = _check(args)
    if problem:
        return _fail(problem)
    runs = []
    for name in args.notebooks:
        run = _one(Path(name), args)
        runs.append(run)
        print(summary.text(run), file=sys.stderr, flush=True)
    if args.json:
        print(summary.as_json(runs))
    return 0 if all(run.ok for run in runs) else 1
