"""Prefetch an image set into the cache, so that the notebooks find it offline later.

    python -m course_utils.data fetch mnist
    python -m course_utils.data fetch fashion-mnist [--root DIR] [--mirror URL ...]

The files are checked against their published checksums and written atomically; the cache
folder is ``$COURSE_DATA_DIR`` or ``~/.cache/course_utils``.
"""
from __future__ import annotations

import argparse
import sys

from course_utils.data.images import DATASETS, DataFileError, data_dir, fetch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fetch", help="download an image set into the cache (checksummed, atomic)")
    p.add_argument("name", choices=sorted(DATASETS))
    p.add_argument("--root", default=None, help=f"cache folder (default: {data_dir()})")
    p.add_argument("--mirror", action="append", default=None, help="base URL to try (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        folder = fetch(args.name, root=args.root, mirrors=args.mirror, progress=not args.quiet)
    except DataFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{args.name}: verified files in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
