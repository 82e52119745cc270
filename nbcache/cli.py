"""``nbcache``: the store from a terminal, outside any notebook. Each subcommand is one small function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from nbcache import config
from nbcache.errors import StoreError
from nbcache.ipython import autoload as profile
from nbcache.store.clearing import ClearRequest, ClearUsage, clear, removed_line
from nbcache.store.location import open_store, size_limit_from
from nbcache.ui.listing import format_entries
from nbcache.units import human_size, parse_size

Command = Callable[[argparse.Namespace], int]


def default_dir() -> str:
    """Where a kernel started here would keep its store: $NBCACHE_DIR, else .nbcache/ in this folder."""
    return config.store_location()


def _fail(command: str, message: str) -> int:
    print(f"nbcache {command}: {message}", file=sys.stderr)
    return 2


def _ls(args: argparse.Namespace) -> int:
    print(format_entries(open_store(args.dir).entries(), args.dir))
    return 0


def _info(args: argparse.Namespace) -> int:
    try:
        limit = human_size(size_limit_from())
    except ValueError as exc:
        return _fail("info", f"NBCACHE_SIZE_LIMIT: {exc}")
    store = open_store(args.dir)
    entries = store.entries()
    print(f"store:      {args.dir}")
    print(f"entries:    {len(entries)}")
    print(f"size:       {human_size(store.usage(entries))} (shared blobs counted once)")
    print(f"hits:       {sum(e.hits for e in entries)}")
    print(f"limit:      {limit} (NBCACHE_SIZE_LIMIT)")
    return 0


def _clear(args: argparse.Namespace) -> int:
    request = ClearRequest(args.all, args.keys, args.older_than, args.larger_than)
    try:
        removed = clear(open_store(args.dir), request)
    except ClearUsage as exc:
        return _fail("clear", str(exc))
    except StoreError as exc:  # e.g. a remote that refuses the credentials: nothing was removed
        return _fail("clear", str(exc))
    print(removed_line(removed))
    return 0


def _prune(args: argparse.Namespace) -> int:
    try:
        max_size = parse_size(args.max_size)
    except ValueError as exc:
        return _fail("prune", f"--max-size: {exc}")
    print(removed_line(open_store(args.dir).prune(max_size)))
    return 0


def _verify(args: argparse.Namespace) -> int:
    store = open_store(args.dir)
    problems = store.verify()
    for line in problems:
        print(f"damaged: {line}")
    summary = f"{len(problems)} damaged" if problems else f"all {len(store.entries())} entries sound"
    print(f"nbcache verify: {summary}")
    return 1 if problems else 0


def _add_clear(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("clear", help="remove entries")
    parser.add_argument("--all", action="store_true", help="remove every entry")
    parser.add_argument("--older-than", metavar="AGE", help="entries not used for this long: 7d, 12h, 30m")
    parser.add_argument("--larger-than", metavar="SIZE", help="entries larger than this: 100MB, 1GiB")
    parser.add_argument("keys", nargs="*", help="key prefixes of the entries to remove")
    parser.set_defaults(run=_clear)


def _enable(args: argparse.Namespace) -> int:
    path = profile.enable(args.profile, auto=args.auto)
    mode = " in auto mode" if args.auto else ""
    print(f"nbcache: IPython profile {args.profile!r} now loads nbcache{mode} at start ({path}); "
          "`nbcache disable` undoes it")
    return 0


def _disable(args: argparse.Namespace) -> int:
    path = profile.disable(args.profile)
    print(f"nbcache: removed {path}" if path else f"nbcache: profile {args.profile!r} had no nbcache startup file")
    return 0


def _run(args: argparse.Namespace) -> int:
    """Execute notebooks headless with every cell in auto mode; exit 1 when a cell raised, as `jupyter execute`."""
    from nbcache.headless.cli import run_notebooks

    return run_notebooks(args)


def _add_run(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("run", help="execute notebooks in a kernel with every cell cached (auto mode)")
    parser.add_argument("notebooks", nargs="+", metavar="NOTEBOOK")
    parser.add_argument("--store", metavar="PATH_OR_URL", help="the store (default: $NBCACHE_DIR, else .nbcache/ "
                        "next to each notebook)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--output", metavar="PATH", help="write the executed notebook here (one notebook only)")
    out.add_argument("--inplace", action="store_true", help="write the executed notebook over the input")
    parser.add_argument("--min-seconds", type=float, metavar="S", help="store cells that run at least S seconds")
    parser.add_argument("--timeout", type=float, metavar="S", help="most seconds a cell may run")
    parser.add_argument("--kernel", metavar="NAME", help="kernelspec (default: the notebook's, else python3)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    parser.set_defaults(run=_run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nbcache", description="Inspect and clean an nbcache store.")
    parser.add_argument("--dir", default=None, help="the store, a folder or URL (default: $NBCACHE_DIR, "
                        "else ./.nbcache)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ls", help="list the entries and totals").set_defaults(run=_ls)
    sub.add_parser("info", help="totals: entries, size, hits").set_defaults(run=_info)
    _add_clear(sub)
    prune = sub.add_parser("prune", help="evict least recently used entries down to a size")
    prune.add_argument("--max-size", required=True, metavar="SIZE", help="size to shrink to: 5GiB, 500MB")
    prune.set_defaults(run=_prune)
    verify = sub.add_parser("verify", help="check every signature and blob hash; exit 1 on damage")
    verify.set_defaults(run=_verify)
    _add_run(sub)
    for name, run, text in (("enable", _enable, "load nbcache in every IPython session and kernel of a profile"),
                            ("disable", _disable, "stop loading nbcache at start (undo `nbcache enable`)")):
        command = sub.add_parser(name, help=text)
        command.add_argument("--profile", default="default", help="IPython profile (default: default)")
        command.set_defaults(run=run)
        if name == "enable":
            command.add_argument("--auto", action="store_true", help="also turn auto mode on (every cell cached)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.dir = args.dir or default_dir()
    run: Command = args.run
    try:
        return run(args)
    except ValueError as exc:  # a store URL whose protocol is not installed
        return _fail(args.command, f"--dir: {exc}")


if __name__ == "__main__":
    sys.exit(main())
