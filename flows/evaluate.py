"""The `evaluate-avsyncd` Prefect flow: the paper's Table 1 for trained models, downstream of
training. Wiring only; the work is `model.evaluate.evaluate`.

    python -m flows.evaluate --manifest data/avsync15.parquet --model data/runs/avsyncd/final --static \
        --set imagebind=pretrained/imagebind_huge.pth --set sync_classifier=data/runs/sync/final --out data/runs/eval
"""

from __future__ import annotations

import argparse
import json
import sys

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact


@task(name="evaluate-models")
def run_evaluation(config: dict) -> dict:
    from model.evaluate import EvalConfig, evaluate

    progress_id = create_progress_artifact(progress=0.0, key="evaluation-progress",
                                           description="generation, then scoring of each row")

    def on_progress(stage: str, done: int, total: int) -> None:
        # Generation is the long part: its share of the bar, then scoring's.
        share = 80.0 * done / total if stage.startswith("generate") else 80.0 + 20.0 * done / total
        update_progress_artifact(progress_id, progress=min(share, 100.0), description=f"{stage}: {done}/{total}")

    summary = evaluate(EvalConfig.model_validate(config), on_progress=on_progress)
    update_progress_artifact(progress_id, progress=100.0)
    return summary


@flow(name="evaluate-avsyncd")
def evaluate_avsyncd(manifest: str, out: str, models: list[str] | None = None, guidance: list[float] | None = None,
                     static: bool = True, split: str = "test", overrides: dict | None = None) -> dict:
    """Generate missing videos and score every row; the summary becomes a table artifact."""
    config = {"manifest": manifest, "out": out, "models": models or [], "guidance": guidance or [4.0],
              "static": static, "split": split, **(overrides or {})}
    summary = run_evaluation(config)
    table = [{"model": tag, **{m: round(v["value"], 3) for m, v in summary["rows"][tag]["metrics"].items()},
              **{f"{m} CI95": v["ci95"] and [round(x, 3) for x in v["ci95"]]
                 for m, v in summary["rows"][tag]["metrics"].items()}} for tag in summary["row_order"]]
    create_table_artifact(table=table, key="evaluation-summary",
                          description=f"{summary['clips']} test clips; report: {summary['report']}")
    get_run_logger().info("evaluated %d rows on %d clips; report at %s", len(table), summary["clips"], summary["report"])
    return summary


def main(argv: list[str] | None = None) -> int:
    from curation.layered_config import merge, parse_override

    parser = argparse.ArgumentParser(prog="python -m flows.evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--model", action="append", default=[])
    parser.add_argument("--guidance", nargs="+", type=float)
    parser.add_argument("--static", action="store_true")
    parser.add_argument("--split", default="test")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any EvalConfig field")
    args = parser.parse_args(argv)
    overrides: dict = {}
    for text in args.set:
        overrides = merge(overrides, parse_override(text))
    summary = evaluate_avsyncd(args.manifest, args.out, args.model, args.guidance, args.static, args.split, overrides)
    print(json.dumps({"report": summary["report"], "notes": summary["notes"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
