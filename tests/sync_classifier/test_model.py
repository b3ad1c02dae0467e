import pytest
import torch

from sync_classifier.config import load_config
from sync_classifier.encoders import AudioConvNet, R2Plus1DBlock, VideoR2Plus1DNet
from sync_classifier.model import SyncClassifier


@pytest.mark.parametrize("preset", ["tiny", "paper"])
def test_encoders_give_one_embedding_per_clip_and_gradients_reach_every_weight(preset):
    cfg = load_config(preset).model
    audio, video = AudioConvNet(cfg.audio_widths), VideoR2Plus1DNet(cfg.video_widths)
    # The encoders are fully convolutional: a 32² crop keeps the paper model's test fast.
    a = audio(torch.randn(2, 1, 128, 204))
    v = video(torch.randn(2, 3, 12, 32, 32))
    assert a.shape == (2, cfg.audio_widths[-1]) and v.shape == (2, cfg.video_widths[-1])
    (a.square().mean() + v.square().mean()).backward()
    for net in (audio, video):
        for name, p in net.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_paper_preset_has_the_authors_layer_sizes():
    model = SyncClassifier(load_config("paper").model)
    assert model.audio_encoder.conv1[0].weight.shape == (64, 1, 7, 7)
    assert model.audio_encoder.block4.conv2.weight.shape == (512, 512, 3, 3)
    assert model.video_encoder.conv1[0].weight.shape == (64, 3, 3, 7, 7)
    assert model.video_encoder.conv5x[0].res_conv.weight.shape == (512, 256, 1, 1, 1)
    assert [m.out_features for m in model.head.layers if isinstance(m, torch.nn.Linear)] == [512, 256, 1]
    assert model.head.layers[0].in_features == 1024
    assert 20e6 < sum(p.numel() for p in model.parameters()) < 21e6  # audio 4.73 M + video 15.38 M + head 0.66 M


def test_all_pairs_scores_equal_scoring_each_concatenated_pair(micro_model):
    a, v = torch.randn(2, 3, 16), torch.randn(2, 4, 16)
    matrix = micro_model.head.all_pairs(a, v)
    assert matrix.shape == (2, 3, 4)
    for b in range(2):
        for i in range(3):
            for j in range(4):
                torch.testing.assert_close(matrix[b, i, j], micro_model.head(a[b, i : i + 1], v[b, j : j + 1])[0])


def test_forward_on_groups_is_the_score_matrix_of_the_pairs(micro_model):
    fbank, video = torch.randn(1, 3, 1, 128, 204), torch.randn(1, 3, 3, 12, 32, 32)
    with torch.no_grad():
        matrix = micro_model(fbank, video)
        pairs = micro_model(fbank[0, [0, 2]], video[0, [1, 1]])
    assert matrix.shape == (1, 3, 3)
    torch.testing.assert_close(matrix[0, [0, 2], [1, 1]], pairs, atol=1e-5, rtol=1e-5)


def test_bf16_autocast_gradients_stay_finite_on_two_frame_temporal_convs():
    # Stage 4 of a 12-frame clip has 2 frames; torch's CPU bf16 kernel makes NaN weight
    # gradients there unless the block runs those convs in fp32.
    torch.manual_seed(0)
    block = R2Plus1DBlock(32, 32)
    for _ in range(8):
        block.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = block(torch.randn(64, 32, 2, 4, 4))
        out.float().square().sum().backward()
        assert all(torch.isfinite(p.grad).all() for p in block.parameters())


def test_save_and_load_give_identical_scores(tmp_path, micro_model):
    fbank, video = torch.randn(4, 1, 128, 204), torch.randn(4, 3, 12, 32, 32)
    with torch.no_grad():
        before = micro_model(fbank, video)
    folder = micro_model.save_pretrained(tmp_path / "m")
    loaded = SyncClassifier.from_pretrained(folder)
    assert loaded.config == micro_model.config and not loaded.training
    with torch.no_grad():
        torch.testing.assert_close(loaded(fbank, video), before, atol=0, rtol=0)


def test_loading_a_missing_checkpoint_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="sync_classifier.train"):
        SyncClassifier.from_pretrained(tmp_path / "nothing")


def test_config_presets_files_and_overrides(tmp_path, micro_config):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lr: 0.01\nmodel:\n  head_width: 64\n")
    cfg = load_config("tiny", path, ["train.tau=0.2", "data.synthetic=true"])
    assert (cfg.train.lr, cfg.model.head_width, cfg.train.tau, cfg.data.synthetic) == (0.01, 64, 0.2, True)
    assert cfg.model.image_size == 48  # rest of the tiny preset kept
    with pytest.raises(ValueError):
        load_config("tiny", overrides=["train.no_such_key=1"])
    with pytest.raises(ValueError):
        load_config("tiny", overrides=["model.num_frames=10"])  # 10 frames at 6 fps is not 2 s
    assert micro_config().image_size == 32
