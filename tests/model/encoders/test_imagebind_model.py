"""A tiny ImageBind saved in the official layout, loaded strictly from a file, checked against a
plain functional re-statement of the architecture computed straight from the state dict."""

import math

import pytest
import torch
import torch.nn.functional as F

from model.encoders import imagebind as imagebind_module
from model.encoders.imagebind import PRESETS, load_imagebind

CFG = PRESETS["tiny"]


# --- the architecture written out with plain tensor ops (independent of the module code) -------


def layer_norm(x, sd, prefix, eps):
    return F.layer_norm(x, x.shape[-1:], sd[prefix + ".weight"], sd[prefix + ".bias"], eps)


def attention(x, sd, p, heads, mask=None, bias_kv=False):
    b, length, d = x.shape
    q, k, v = (x @ sd[p + "in_proj_weight"].T + sd[p + "in_proj_bias"]).chunk(3, dim=-1)
    if bias_kv:  # one learned key/value appended after the projection
        k = torch.cat([k, sd[p + "bias_k"].expand(b, 1, d)], dim=1)
        v = torch.cat([v, sd[p + "bias_v"].expand(b, 1, d)], dim=1)
    q, k, v = (t.reshape(b, -1, heads, d // heads).transpose(1, 2) for t in (q, k, v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(d // heads)
    if mask is not None:
        scores = scores + mask
    out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, length, d)
    return out @ sd[p + "out_proj.weight"].T + sd[p + "out_proj.bias"]


def trunk(x, sd, name, layers, heads, mask=None, bias_kv=False):
    for i in range(layers):
        p = f"modality_trunks.{name}.blocks.{i}."
        x = x + attention(layer_norm(x, sd, p + "norm_1", 1e-6), sd, p + "attn.", heads, mask, bias_kv)
        h = F.gelu(layer_norm(x, sd, p + "norm_2", 1e-6) @ sd[p + "mlp.fc1.weight"].T + sd[p + "mlp.fc1.bias"])
        x = x + h @ sd[p + "mlp.fc2.weight"].T + sd[p + "mlp.fc2.bias"]
    return x


def with_cls_and_positions(patches, sd, name):
    cls = sd[f"modality_preprocessors.{name}.cls_token"].expand(len(patches), -1, -1)
    return torch.cat([cls, patches], 1) + sd[f"modality_preprocessors.{name}.pos_embedding_helper.pos_embed"]


def reference_vision(pixels, sd):
    clip = torch.stack([pixels, pixels], dim=2)  # the image as a 2-frame video
    w = sd["modality_preprocessors.vision.rgbt_stem.proj.1.weight"]
    patches = F.conv3d(clip, w, stride=w.shape[2:]).flatten(2).transpose(1, 2)
    x = layer_norm(with_cls_and_positions(patches, sd, "vision"), sd, "modality_trunks.vision.pre_transformer_layer.0", 1e-6)
    x = trunk(x, sd, "vision", CFG.vision_layers, CFG.vision_heads)
    pooled = layer_norm(x, sd, "modality_heads.vision.0", 1e-6)[:, 0] @ sd["modality_heads.vision.2.weight"].T
    return F.normalize(pooled, dim=-1)


def reference_text(ids, sd):
    x = sd["modality_preprocessors.text.token_embedding.weight"][ids] + sd["modality_preprocessors.text.pos_embed"]
    causal = torch.full((ids.shape[1], ids.shape[1]), float("-inf")).triu(1)
    x = trunk(x, sd, "text", CFG.text_layers, CFG.text_heads, mask=causal)
    eot = x[torch.arange(len(ids)), ids.argmax(-1)]
    pooled = layer_norm(eot, sd, "modality_heads.text.proj.0", 1e-6) @ sd["modality_heads.text.proj.1.weight"].T
    return F.normalize(pooled, dim=-1) * sd["modality_postprocessors.text.1.log_logit_scale"].exp().clamp(max=100)


def reference_audio_tokens(mels, sd):
    w = sd["modality_preprocessors.audio.rgbt_stem.proj.weight"]
    patches = F.conv2d(mels, w, stride=10).flatten(2).transpose(1, 2)  # frequency-major
    patches = layer_norm(patches, sd, "modality_preprocessors.audio.rgbt_stem.norm_layer", 1e-5)
    return trunk(with_cls_and_positions(patches, sd, "audio"), sd, "audio", CFG.audio_layers, CFG.audio_heads,
                 bias_kv=True)


def reference_audio(mels, sd):
    """(B, C, 1, 128, 204) → (B, E): 20 · unit embedding per clip, averaged over clips."""
    b, c = mels.shape[:2]
    x = reference_audio_tokens(mels.flatten(0, 1), sd)
    pooled = layer_norm(x, sd, "modality_heads.audio.0", 1e-6)[:, 0] @ sd["modality_heads.audio.2.weight"].T
    return (F.normalize(pooled, dim=-1) * 20.0).reshape(b, c, -1).mean(1)


# --- tests --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    return load_imagebind(tiny_checkpoint, "tiny")


def test_loads_every_tensor_of_the_file_strictly(model, tiny_state):
    loaded = model.state_dict()
    assert set(loaded) == {k for k in tiny_state if k.split(".")[1] in ("vision", "text", "audio")}
    for key, value in loaded.items():
        assert torch.equal(value, tiny_state[key]), key
    assert not model.training and not any(p.requires_grad for p in model.parameters())


def file_mappings(path) -> list[tuple[int, int]]:
    """Address ranges of this process mapped from `path` (Linux /proc/self/maps)."""
    ranges = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            if line.rstrip().endswith(str(path)):
                start, end = line.split()[0].split("-")
                ranges.append((int(start, 16), int(end, 16)))
    return ranges


def test_loader_memory_maps_and_assigns(tiny_checkpoint, monkeypatch):
    calls = []
    real_load = torch.load

    def recording_load(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(imagebind_module.torch, "load", recording_load)
    model = load_imagebind(tiny_checkpoint, "tiny", modalities=("audio",))
    assert calls == [{"map_location": "cpu", "mmap": True, "weights_only": True}]
    assert model.modalities == ("audio",) and not any(p.is_meta for p in model.parameters())
    # The parameters are the file's pages themselves (assigned, not copied into fresh memory).
    mapped = file_mappings(tiny_checkpoint.resolve())
    weight = model.modality_trunks["audio"].blocks[1].mlp.fc2.weight
    assert mapped and any(lo <= weight.data_ptr() < hi for lo, hi in mapped)


def test_outputs_match_the_architecture(model, tiny_state):
    sd = tiny_state
    gen = torch.Generator().manual_seed(3)
    pixels = torch.randn(2, 3, 224, 224, generator=gen)
    ids = torch.zeros(2, 77, dtype=torch.long)
    ids[0, :4] = torch.tensor([49406, 1929, 2035, 49407])  # sot … eot (the largest id marks the end)
    ids[1, :6] = torch.tensor([49406, 1629, 17058, 267, 35968, 49407])
    mels = torch.randn(2, 3, 1, 128, 204, generator=gen)
    with torch.no_grad():
        out = model({"vision": pixels, "text": ids, "audio": mels})
        torch.testing.assert_close(out["vision"], reference_vision(pixels, sd), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(out["text"], reference_text(ids, sd), atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(out["audio"], reference_audio(mels, sd), atol=1e-4, rtol=1e-4)
        tokens = model.audio_tokens(mels[:, 0])
        assert tokens.shape == (2, 229, CFG.audio_width)
        torch.testing.assert_close(tokens, reference_audio_tokens(mels[:, 0], sd), atol=1e-5, rtol=1e-4)
        # unit embeddings for cosines; text and audio carry their logit scales in `forward`
        for modality, value in (("vision", pixels), ("text", ids), ("audio", mels)):
            emb = model.embed(modality, value)
            torch.testing.assert_close(emb.norm(dim=-1), torch.ones(2))
            torch.testing.assert_close(emb, F.normalize(out[modality], dim=-1))
        assert out["audio"][0].norm() < 20.0  # a mean of 3 different clips is shorter than 20 · unit


def test_text_ignores_padding_after_the_end_token(model):
    ids = torch.zeros(2, 77, dtype=torch.long)
    ids[:, :3] = torch.tensor([49406, 1929, 49407])
    ids[1, 3:10] = 7  # junk after EOT: invisible to a causal model pooled at EOT
    with torch.no_grad():
        emb = model.embed("text", ids)
    torch.testing.assert_close(emb[0], emb[1])


def test_audio_drop_path_is_active_only_in_training(model):
    mels = torch.randn(32, 1, 128, 204, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model.audio_tokens(mels), model.audio_tokens(mels))
        model.train()
        try:
            torch.manual_seed(0)
            a = model.audio_tokens(mels)
            b = model.audio_tokens(mels)
        finally:
            model.eval()
    assert not torch.equal(a, b)  # stochastic depth (last block's rate is 0.1)


def test_wrong_input_sizes_are_refused(model):
    with pytest.raises(ValueError, match="224"):
        model.vision_tokens(torch.zeros(1, 3, 200, 200))
    with pytest.raises(ValueError, match="128, 204"):
        model.audio_tokens(torch.zeros(1, 1, 128, 100))


def test_missing_checkpoint_says_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_imagebind(tmp_path / "imagebind_huge.pth")
    message = str(err.value)
    assert "imagebind_huge.pth" in message and "dl.fbaipublicfiles.com" in message and "CC BY-NC-SA" in message


def test_preset_must_match_the_file(tiny_checkpoint):
    with pytest.raises(ValueError, match="wrong preset"):
        load_imagebind(tiny_checkpoint, "base", modalities=("audio",))
