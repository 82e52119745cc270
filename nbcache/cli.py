"""``nbcache``: the store from a terminal, outside any notebook. Each subcommand is one small function."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from . import profile
from .info import format_entries
from .store import Store

Command = Callable[[argparse.Namespace], int]


def default_dir() -> str:
    """Where a kernel started here would keep its store: $NBCACHE_DIR, else .nbcache/ in this folder."""
    return os.environ.get("NBCACHE_DIR") or os.path.join(os.getcwd(), ".nbcache")


def _ls(args: argparse.Namespace) -> int:
    print(format_entries(Store(args.dir).entries(), args.dir))
    return 0


def _clear(args: argparse.Namespace) -> int:
    if args.all == bool(args.keys):
        print("nbcache clear: give either --all or one or more key prefixes (see `nbcache ls`)", file=sys.stderr)
        return 2
    store = Store(args.dir)
    removed = store.clear() if args.all else sum(store.remove(prefix) for prefix in args.keys)
    print(f"nbcache: removed {removed} entr{'y' if removed == 1 else 'ies'}")
    return 0


def _enable(args: argparse.Namespace) -> int:
    path = profile.enable(args.profile)
    print(f"nbcache: IPython profile {args.profile!r} now loads nbcache at start ({path}); "
          "`nbcache disable` undoes it")
    return 0


def _disable(args: argparse.Namespace) -> int:
    path = profile.disable(args.profile)
    print(f"nbcache: removed {path}" if path else f"nbcache: profile {args.profile!r} had no nbcache startup file")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nbcache", description="Inspect and clean an nbcache store.")
    parser.add_argument("--dir", default=None, help="the store (default: $NBCACHE_DIR, else ./.nbcache)")
    sub = parser.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("ls", help="list the entries and totals")
    ls.set_defaults(run=_ls)
    clear = sub.add_parser("clear", help="remove entries")
    clear.add_argument("--all", action="store_true", help="remove every entry")
    clear.add_argument("keys", nargs="*", help="key prefixes of the entries to remove")
    clear.set_defaults(run=_clear)
    for name, run, text in (("enable", _enable, "load nbcache in every IPython session and kernel of a profile"),
                            ("disable", _disable, "stop loading nbcache at start (undo `nbcache enable`)")):
        command = sub.add_parser(name, help=text)
        command.add_argument("--profile", default="default", help="IPython profile (default: default)")
        command.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.dir = args.dir or default_dir()
    run: Command = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
