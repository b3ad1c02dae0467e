"""The audio-visual sync classifier of ASVA (paper §3.1 "Audio-Video Synchronization", §3.2).

    config.py         SyncConfig (model / data / train) with presets `tiny` and `paper`
    preprocessing.py  log-mel (ImageBind recipe) and CLIP-normalised frame stacks, batched over shifted clips
    encoders.py       audio 2D conv net, R(2+1)D-18-style video net (AVID-CMA layer names)
    model.py          SyncClassifier: encoders + MLP head → unbounded φ(a, v); safetensors save/load
    pretrained.py     AVID-CMA encoder initialisation; the authors' released classifier
    contrastive.py    the two-way cross-entropy over K×K shifted pairs (Eq. 1, τ = 0.1)
    data.py           examples from clip manifests (decoded with curation.media) or generated clips
    synthetic.py      generated clips (curation.sources.synthetic) as DecodedMedia
    train.py          accelerate training loop         `python -m sync_classifier.train`
    evaluate.py       VGGSoundSync protocol            `python -m sync_classifier.evaluate`
    sync_metrics.py   PSync, RelSync, AlignSync        `python -m sync_classifier.sync_metrics`

PSync is also the curation metric `psync` (curation/metrics/psync.py).
"""

from sync_classifier.config import ModelConfig, SyncConfig, load_config
from sync_classifier.model import SyncClassifier

__all__ = ["ModelConfig", "SyncClassifier", "SyncConfig", "load_config"]
