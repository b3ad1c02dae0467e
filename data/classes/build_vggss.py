"""Rebuild data/classes/vggss.txt: a 149-class VGGSS selection (the paper's list is not published).

Rule (data/classes/README.md): for every VGGSound class, the share of its VGGSound test clips whose
VGGSounder re-annotation marks the class label as audible AND visible (`modality` = AV), Laplace-
smoothed as (AV + 1) / (annotated + 2) so a class with few annotations is not ranked on one clip.
VGGSound's "nature" category (stat.csv: wind, rain, streams, waterfalls, thunder, ...) is left out
first: ambient sound without discrete events (the paper: "removing ambient classes").
The 149 best-ranked classes are kept, with every VGGSound label behind AVSync15's 15 classes
(data/classes/avsync15.txt) forced in (the lowest-ranked others make room). Ties: class name.

    python data/classes/build_vggss.py --vggsounder vggsounder.csv --test test.csv --stat stat.csv > data/classes/vggss.txt
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

N_CLASSES = 149  # paper §3.1
AMBIENT_CATEGORIES = ("nature",)


def categories(stat_csv: Path) -> dict[str, str]:
    """{VGGSound label: category} from VGGSound's stat.csv (`label,count,category`)."""
    with stat_csv.open(newline="", encoding="utf-8-sig") as handle:
        return {row[0]: row[2].strip() for row in csv.reader(handle) if len(row) >= 3}


def av_scores(vggsounder_csv: Path, test_csv: Path) -> dict[str, tuple[float, int, int]]:
    """{VGGSound label: (smoothed AV share, AV clips, annotated clips)} over the VGGSound test split."""
    with test_csv.open(newline="", encoding="utf-8-sig") as handle:
        label_of = {row[0].removesuffix(".mp4"): row[1] for row in csv.reader(handle) if len(row) >= 2}
    annotated, av = Counter(), Counter()
    with vggsounder_csv.open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            if label_of.get(row["video_id"]) == row["label"]:  # the clip's own VGGSound label
                annotated[row["label"]] += 1
                av[row["label"]] += row["modality"] == "AV"
    return {label: ((av[label] + 1) / (annotated[label] + 2), av[label], annotated[label])
            for label in sorted(set(label_of.values()))}


def select(scores: dict[str, tuple[float, int, int]], forced: list[str], n: int = N_CLASSES) -> list[str]:
    ranked = sorted(scores, key=lambda label: (-scores[label][0], label))
    missing = [label for label in forced if label not in scores]
    if missing:
        raise ValueError(f"forced labels are not VGGSound classes: {missing}")
    others = [label for label in ranked if label not in forced][: n - len(forced)]
    return sorted(set(others) | set(forced), key=lambda label: (-scores[label][0], label))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vggsounder", type=Path, required=True, help="VGGSounder's vggsounder.csv")
    parser.add_argument("--test", type=Path, required=True, help="VGGSound's test.csv")
    parser.add_argument("--stat", type=Path, required=True, help="VGGSound's stat.csv (label,count,category)")
    parser.add_argument("--avsync15", type=Path, default=Path(__file__).with_name("avsync15.txt"))
    args = parser.parse_args(argv)
    forced = [line.split("#", 1)[0].split("\t", 1)[0].strip() for line in args.avsync15.read_text().splitlines()]
    forced = [label for label in forced if label]
    category = categories(args.stat)
    scores = {label: value for label, value in av_scores(args.vggsounder, args.test).items()
              if category.get(label) not in AMBIENT_CATEGORIES or label in forced}
    chosen = select(scores, forced)
    print(f"# VGGSS selection: {len(chosen)} VGGSound classes (no 'nature' ones) ranked by their VGGSounder AV share")
    print("# (how it was made:")
    print("# data/classes/README.md; rebuild: python data/classes/build_vggss.py). One label per line;")
    print("# after '#': smoothed AV share, AV / annotated test clips, [avsync15] when forced in.")
    for label in chosen:
        share, n_av, n = scores[label]
        tag = " [avsync15]" if label in forced else ""
        print(f"{label}\t# {share:.3f} {n_av}/{n}{tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
