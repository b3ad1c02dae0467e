"""The evaluation's HTML report: Table 1 (rows = models, columns = metrics with 95 % CIs),
per-class bar charts (inline SVG) and a sample of test clips side by side as playable videos
with sound (ground truth, Static, each model). One self-contained page next to its videos:
`OUT/report.html` links `generations/<tag>/<clip_id>.mp4` and `ground_truth/<clip_id>.mp4`."""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

# Direction of each metric, for the table header.
BETTER = {"FID": "↓", "FVD": "↓", "FID (standard)": "↓", "FVD (standard)": "↓", "IA": "↑", "IT": "↑", "RelSync": "↑", "AlignSync": "↑"}
BAR_METRICS = ("IA", "IT", "RelSync", "AlignSync")
PALETTE = ("#555555", "#999999", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def _cell(metric: dict | None) -> str:
    if metric is None:
        return "<td>–</td>"
    ci = metric.get("ci95")
    ci_text = f'<br><span class="ci">[{ci[0]:.2f}, {ci[1]:.2f}]</span>' if ci else ""
    return f'<td data-value="{metric["value"]:.6g}">{metric["value"]:.2f}{ci_text}</td>'


def results_table(summary: dict) -> str:
    metrics = summary["metrics"]
    head = "".join(f"<th>{html.escape(m)} {BETTER.get(m, '')}</th>" for m in metrics)
    body = []
    for tag in summary["row_order"]:
        row = summary["rows"][tag]
        cells = "".join(_cell(row["metrics"].get(m)) for m in metrics)
        body.append(f'<tr data-model="{html.escape(tag)}"><th>{html.escape(tag)}</th>{cells}</tr>')
    return f'<table id="results"><thead><tr><th>model</th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def class_bars(summary: dict, metric: str, width: int = 720, bar_h: int = 7) -> str:
    """Grouped horizontal bars: one group per class, one bar per model."""
    per_class = summary["per_class"]
    tags = [t for t in summary["row_order"] if any(metric in v for v in per_class.get(t, {}).values())]
    if not tags:
        return ""
    labels = sorted({label for t in tags for label in per_class[t]})
    values = [[per_class[t].get(label, {}).get(metric, np.nan) for t in tags] for label in labels]
    finite = [v for group in values for v in group if np.isfinite(v)]
    hi = max([abs(v) for v in finite] + [1e-9])
    left, group_h = 180, bar_h * len(tags) + 8
    height = group_h * len(labels) + 30
    parts = [f'<svg class="bars" data-metric="{metric}" width="{width}" height="{height}" role="img">']
    for g, (label, group) in enumerate(zip(labels, values)):
        y0 = 20 + g * group_h
        parts.append(f'<text x="{left - 6}" y="{y0 + group_h / 2}" text-anchor="end" font-size="11">{html.escape(label)}</text>')
        for k, v in enumerate(group):
            if not np.isfinite(v):
                continue
            w = (width - left - 60) * abs(v) / hi
            parts.append(f'<rect x="{left}" y="{y0 + k * bar_h}" width="{w:.1f}" height="{bar_h - 1}" '
                         f'fill="{PALETTE[k % len(PALETTE)]}"><title>{html.escape(tags[k])}: {v:.2f}</title></rect>')
    legend = "".join(f'<tspan fill="{PALETTE[k % len(PALETTE)]}">■ {html.escape(t)}  </tspan>' for k, t in enumerate(tags))
    parts.append(f'<text x="{left}" y="12" font-size="11">{legend}</text></svg>')
    return f"<h3>{html.escape(metric)} per class</h3>" + "".join(parts)


def sample_clips(clips: pd.DataFrame, count: int) -> pd.DataFrame:
    """`count` clips spread over the classes (one per class first, in clip-id order)."""
    if count <= 0:
        return clips.iloc[:0]
    first = clips.sort_values("clip_id").groupby("label", sort=True).head(1)
    rest = clips[~clips["clip_id"].isin(first["clip_id"])]
    return pd.concat([first, rest]).head(count)


def _video(src: str, caption: str) -> str:
    return (f'<figure><video controls preload="auto" src="{html.escape(src)}"></video>'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def write_report(summary: dict, scores: pd.DataFrame, clips: pd.DataFrame, out: Path, config,
                 clip_loader: Callable) -> Path:
    """Write `out/report.html` (and the ground-truth mp4 of each sampled clip); returns its path."""
    from model.evaluate import GROUND_TRUTH, generation_path
    from model.pipeline import Animation

    out = Path(out)
    sample = sample_clips(clips, config.report_samples)
    rows_html = []
    for row in sample.itertuples(index=False):
        gt_path = out / "ground_truth" / f"{row.clip_id}.mp4"
        if not gt_path.is_file():
            frames, audio = clip_loader(row)
            gt_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = gt_path.with_name(f".{gt_path.stem}.tmp.mp4")
            Animation(frames, audio, config.fps, config.sample_rate).write_mp4(tmp)
            os.replace(tmp, gt_path)
        videos = [_video(os.path.relpath(gt_path, out), "ground truth")]
        for tag in summary["row_order"]:
            if tag != GROUND_TRUTH:
                videos.append(_video(os.path.relpath(generation_path(out, tag, row.clip_id), out), tag))
        rows_html.append(f'<section class="clip" data-clip="{html.escape(row.clip_id)}"><h4>{html.escape(row.clip_id)} '
                         f'— {html.escape(row.label)} (“{html.escape(row.prompt)}”)</h4><div class="row">'
                         f'{"".join(videos)}</div></section>')
    provenance = {"decoder": summary["decoder"], "weights": summary["weights"], "protocol": summary["protocol"]}
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in summary["notes"])
    protocol = summary["protocol"]
    protocols = "".join(f"<li><b>{html.escape(name)}</b>: {html.escape(str(protocol[key]))}</li>" for name, key in
                        (("FID", "fid"), ("FID (standard)", "fid_standard"), ("FVD", "fvd"),
                         ("FVD (standard)", "fvd_standard"), ("IA / IT", "ia_it"),
                         ("RelSync / AlignSync", "relsync_alignsync"), ("Fréchet distance", "frechet"),
                         ("Frame pick", "frame_pick"))
                        if protocol.get(key) and (name not in BETTER or name in summary["metrics"]))
    differences = "".join(f"<li>{html.escape(d)}</li>" for d in protocol.get("differences_from_authors", []))
    bars = "".join(class_bars(summary, m) for m in BAR_METRICS)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>asva evaluation — {html.escape(str(summary['manifest']))}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
.ci {{ color: #777; font-size: 0.8em; }} .row {{ display: flex; gap: 8px; flex-wrap: wrap; }}
figure {{ margin: 0; }} video {{ width: 192px; }} figcaption {{ font-size: 0.8em; text-align: center; }}
pre {{ background: #f6f6f6; padding: 8px; font-size: 0.8em; overflow-x: auto; }}
</style></head><body>
<h1>Evaluation: {summary['clips']} test clips of {summary['videos']} videos</h1>
<p>Values with bootstrap 95 % confidence intervals over test clips (FID/FVD: the Fréchet distance recomputed on
resampled clips).</p>
<h2>Table 1</h2>{results_table(summary)}
<h3>Protocols</h3><ul id="protocols">{protocols}</ul>
<h3>Known differences from the authors' evaluation</h3><ul id="differences">{differences}</ul>
<h2>Notes</h2><ul id="notes">{notes}</ul>
<h2>Per class</h2>{bars}
<h2>Sample clips</h2>{"".join(rows_html)}
<h2>Provenance</h2><pre id="provenance">{html.escape(__import__('json').dumps(provenance, indent=2))}</pre>
</body></html>
"""
    path = out / "report.html"
    tmp = path.with_name(".report.html.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path
