"""The check animation after training: one held-out clip's first frame animated with its own sound.

`flows/train_avsyncd.py` calls `animate_held_out_clip` once training ends, so a run folder holds a
sample of what the model does on a clip it never trained on. The clip is the centre window of the
first row of the manifest's held-out split (the window `model.data.validation_windows` takes from
a row), read as uint8 frames by the one window reader (`model.data.read_window`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from curation.config import MediaConfig
from curation.manifest import ClipRow, read_clip_rows
from model.config import DataConfig
from model.data import TrainingWindows, prompt_for, read_window

log = logging.getLogger(__name__)


def held_out_rows(manifest: str | Path, split: str | None = "test") -> list[ClipRow]:
    """Rows of `split`; all rows when `split` is None or the manifest has no usable row of it (a
    manifest without a test split still gets its check animation, from a training clip)."""
    if split:
        try:
            return read_clip_rows(manifest, split, need_label=True)
        except ValueError as exc:  # read_clips says why the split is empty
            log.warning("no held-out rows (%s); animating a clip of the whole manifest", exc)
    return read_clip_rows(manifest, need_label=True)


def animate_held_out_clip(pipeline_dir: str | Path, manifest: str | Path, out: str | Path,
                          split: str | None = "test", steps: int = 50, seed: int = 0) -> dict:
    """Animate the first frame of the centre window of one held-out clip with that window's sound
    and write the mp4 (H.264 + AAC) to `out`. Frames are the pipeline's num_frames at its fps and
    height × width. Returns {"mp4", "prompt", "source", "start_s"}."""
    from model.pipeline import AVSyncDPipeline

    pipeline = AVSyncDPipeline.from_pretrained(pipeline_dir)
    height, width = pipeline.resolution
    data = DataConfig(num_frames=pipeline.num_frames, fps=pipeline.fps, height=height, width=width, hflip=False)
    # The centre window of the first held-out row, as `validation_windows` would take it.
    row, start_s, _ = TrainingWindows(held_out_rows(manifest, split)[:1], data, random_windows=False).row_and_start(0)
    frames, audio = read_window(row.path, start_s, data.num_frames, data.fps, data.size, pipeline.sample_rate,
                                MediaConfig())
    prompt = prompt_for(row.label)
    video = pipeline(frames[0], audio, prompt, num_inference_steps=steps, seed=seed)
    return {"mp4": str(video.write_mp4(out)), "prompt": prompt, "source": str(row.path), "start_s": start_s}
