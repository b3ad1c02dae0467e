"""`python -m curation.review --run DIR [--port N] [--classes FILE] [--reviewer NAME]` serves the
review page on 127.0.0.1; `... --export data/avsync15.parquet [--train-per-class 90
--test-per-class 10 --seed 0]` writes the accepted clips as an AVSync15 manifest."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from pathlib import Path

from curation.review.candidates import CANDIDATE_TABLES, DEFAULT_CLASSES

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m curation.review", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="curation run folder (its --out)")
    parser.add_argument("--classes", type=Path, default=DEFAULT_CLASSES,
                        help="class list to review (default: AVSync15's 15, %(default)s)")
    parser.add_argument("--table", choices=CANDIDATE_TABLES, default="avsync_ac",
                        help="candidates: the class-balanced avsync_ac.parquet (default) or all clips.parquet")
    parser.add_argument("--reviewer", default=None, help="name recorded with each decision (default: login name)")
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--target-per-class", type=int, default=100, help="accepted clips wanted per class")
    parser.add_argument("--on-finish-url", default=None,
                        help="POST finished.json's content to this URL when the review is marked finished")
    parser.add_argument("--no-prefetch", action="store_true", help="cut clips only when the page asks for them")
    parser.add_argument("--export", type=Path, default=None, metavar="PARQUET",
                        help="write the accepted clips as an AVSync15 manifest instead of serving")
    parser.add_argument("--train-per-class", type=int, default=90)
    parser.add_argument("--test-per-class", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/test split")
    return parser.parse_args(argv)


def export(args: argparse.Namespace) -> int:
    from curation.review.export import export_accepted

    report = export_accepted(args.run, args.export, args.classes, args.train_per_class, args.test_per_class,
                             args.seed, args.table)
    print("\n".join(report.lines()))
    if report.short:
        print(f"{len(report.short)} class(es) below the target of {report.target_per_class}: review more "
              "candidates or curate more videos for them", file=sys.stderr)
    return 0


def serve(args: argparse.Namespace) -> int:
    from curation.review.app import serve_session
    from curation.review.session import ReviewSession, post_json_hook

    session = ReviewSession(args.run, args.classes, args.reviewer or getpass.getuser(), args.table,
                            args.target_per_class, post_json_hook(args.on_finish_url) if args.on_finish_url else None)
    if not session.candidates:
        print(f"warning: {args.run}/{args.table}.parquet has no clip of the classes in {args.classes}"
              + (" (try --table clips)" if args.table == "avsync_ac" else ""), file=sys.stderr)
    serve_session(session, args.port, prefetch=not args.no_prefetch)
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    try:
        return export(args) if args.export else serve(args)
    except (OSError, ValueError) as exc:  # a missing run or class list, a port in use, nothing to export
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
