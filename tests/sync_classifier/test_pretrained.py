import pytest
import torch

from sync_classifier.config import load_config
from sync_classifier.model import SyncClassifier
from sync_classifier.pretrained import load_asva_release, load_avid_cma


def _avid_cma_file(path, source: SyncClassifier, drop: str | None = None):
    """A file laid out like AVID-CMA's AudioSet checkpoint: {"model": DataParallel state dict, ...}."""
    state = {f"module.audio_model.{k}": v for k, v in source.audio_encoder.state_dict().items()}
    state |= {f"module.video_model.{k}": v for k, v in source.video_encoder.state_dict().items()}
    state["module.video_proj.0.weight"] = torch.zeros(4, 4)  # AVID-CMA's own projection heads: ignored
    if drop:
        del state[drop]
    torch.save({"epoch": 200, "model": state, "optimizer": {"state": {}}}, path)
    return path


@pytest.fixture(scope="module")
def paper_source():
    torch.manual_seed(3)
    return SyncClassifier(load_config("paper").model)


def test_avid_cma_checkpoint_loads_both_encoders_strictly(tmp_path, paper_source):
    path = _avid_cma_file(tmp_path / "avid.pth.tar", paper_source)
    torch.manual_seed(4)
    target = SyncClassifier(load_config("paper").model)
    head_before = {k: v.clone() for k, v in target.head.state_dict().items()}
    report = load_avid_cma(target, path)
    assert report.ignored == ["module.video_proj.0.weight"]
    assert report.loaded == len(target.audio_encoder.state_dict()) + len(target.video_encoder.state_dict())
    for name in ("audio_encoder", "video_encoder"):
        for key, value in getattr(paper_source, name).state_dict().items():
            torch.testing.assert_close(getattr(target, name).state_dict()[key], value, rtol=0, atol=0)
    for key, value in target.head.state_dict().items():  # the head keeps its own initialisation
        torch.testing.assert_close(value, head_before[key])


def test_incomplete_or_mismatched_checkpoints_fail_loudly(tmp_path, paper_source):
    missing = _avid_cma_file(tmp_path / "missing.pth.tar", paper_source, drop="module.video_model.conv3x.0.res_conv.weight")
    with pytest.raises(ValueError, match="res_conv"):
        load_avid_cma(SyncClassifier(load_config("paper").model), missing)
    full = _avid_cma_file(tmp_path / "full.pth.tar", paper_source)
    with pytest.raises(ValueError, match="paper"):
        load_avid_cma(SyncClassifier(load_config("tiny").model), full)
    torch.save({"model": {"module.something.weight": torch.zeros(1)}}, tmp_path / "other.pth.tar")
    with pytest.raises(ValueError, match="audio_model"):
        load_avid_cma(SyncClassifier(load_config("paper").model), tmp_path / "other.pth.tar")
    with pytest.raises(FileNotFoundError):
        load_avid_cma(SyncClassifier(load_config("paper").model), tmp_path / "absent.pth.tar")


def test_authors_release_layout_loads_with_its_head_key_names(tmp_path, micro_model):
    modules = tmp_path / "checkpoint-40000" / "modules"
    for name in ("audio_encoder", "video_encoder"):
        (modules / name).mkdir(parents=True)
        torch.save(getattr(micro_model, name).state_dict(), modules / name / "diffusion_pytorch_model.bin")
    (modules / "head").mkdir()
    renamed = {k.replace("layers.0.", "fc.0.").replace("layers.2.", "fc.3.").replace("layers.4.", "fc.6."): v
               for k, v in micro_model.head.state_dict().items()}
    torch.save(renamed, modules / "head" / "diffusion_pytorch_model.bin")
    torch.manual_seed(9)
    target = SyncClassifier(micro_model.config).eval()
    load_asva_release(target, modules)
    fbank, video = torch.randn(2, 1, 128, 204), torch.randn(2, 3, 12, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(target(fbank, video), micro_model(fbank, video))
