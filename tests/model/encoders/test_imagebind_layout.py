"""The official imagebind_huge.pth key layout, and strict loading against it (on the meta device)."""

import pytest
import torch

from model.encoders.imagebind import ImageBind, load_state_dict_strict
from model.encoders.imagebind_layout import official_layout

# Facts from SPEC "ImageBind" and the released architecture, written out independently of the code.
HUGE_SHAPES = {
    "modality_preprocessors.vision.cls_token": (1, 1, 1280),
    "modality_preprocessors.vision.rgbt_stem.proj.1.weight": (1280, 3, 2, 14, 14),
    "modality_preprocessors.vision.pos_embedding_helper.pos_embed": (1, 257, 1280),
    "modality_trunks.vision.pre_transformer_layer.0.weight": (1280,),
    "modality_trunks.vision.blocks.31.attn.in_proj_weight": (3840, 1280),
    "modality_trunks.vision.blocks.31.mlp.fc1.weight": (5120, 1280),
    "modality_heads.vision.2.weight": (1024, 1280),
    "modality_preprocessors.text.token_embedding.weight": (49408, 1024),
    "modality_preprocessors.text.pos_embed": (1, 77, 1024),
    "modality_preprocessors.text.mask": (77, 77),
    "modality_trunks.text.blocks.23.attn.out_proj.weight": (1024, 1024),
    "modality_heads.text.proj.0.weight": (1024,),
    "modality_heads.text.proj.1.weight": (1024, 1024),
    "modality_postprocessors.text.1.log_logit_scale": (),
    "modality_preprocessors.audio.rgbt_stem.proj.weight": (768, 1, 16, 16),
    "modality_preprocessors.audio.rgbt_stem.norm_layer.bias": (768,),
    "modality_preprocessors.audio.pos_embedding_helper.pos_embed": (1, 229, 768),
    "modality_trunks.audio.blocks.11.attn.bias_k": (1, 1, 768),
    "modality_trunks.audio.blocks.11.attn.bias_v": (1, 1, 768),
    "modality_trunks.audio.blocks.11.norm_2.weight": (768,),
    "modality_heads.audio.2.weight": (1024, 768),
    "modality_postprocessors.audio.1.log_logit_scale": (),
}


def meta_state(layout):
    return {key: torch.empty(shape, device="meta") for key, shape in layout.items()}


def test_official_layout_has_the_released_key_count_and_shapes():
    layout = official_layout("huge")
    assert len(layout) == 1311  # SPEC: 1,311 keys, 6 modalities
    for key, shape in HUGE_SHAPES.items():
        assert layout[key] == shape, key
    ours = [k for k in layout if k.split(".")[1] in ("vision", "text", "audio")]
    assert len(ours) == 864
    assert not any("vision" in k and "bias_k" in k for k in layout)  # only audio-like trunks add bias_kv


def test_huge_meta_state_dict_loads_with_no_missing_or_unexpected_keys():
    state = meta_state(official_layout("huge"))
    with torch.device("meta"):
        model = ImageBind("huge")
    ignored = load_state_dict_strict(model, state)  # raises on any missing/unexpected/mis-shaped key
    assert len(ignored) == 1311 - 864 and all(k.split(".")[1] in ("depth", "thermal", "imu") for k in ignored)
    loaded = model.state_dict()
    assert set(loaded) == {k for k in state if k not in ignored}
    assert all(tuple(loaded[k].shape) == state[k].shape for k in loaded)


def test_audio_only_model_takes_exactly_the_audio_keys():
    state = meta_state(official_layout("huge"))
    with torch.device("meta"):
        model = ImageBind("huge", modalities=("audio",))
    ignored = load_state_dict_strict(model, state)
    assert len(model.state_dict()) == 177 and len(ignored) == 1311 - 177


@pytest.mark.parametrize("change", ["missing", "unexpected", "shape", "foreign"])
def test_layout_mismatches_are_refused(change):
    state = meta_state(official_layout("huge"))
    if change == "missing":
        del state["modality_trunks.audio.blocks.3.attn.bias_v"]
    elif change == "unexpected":
        state["modality_trunks.vision.blocks.0.layer_scale_gamma1"] = torch.empty(1, 1, 1280, device="meta")
    elif change == "shape":
        state["modality_preprocessors.audio.pos_embedding_helper.pos_embed"] = torch.empty(1, 230, 768, device="meta")
    else:
        state["module.visual.proj"] = torch.empty(3, device="meta")
    with torch.device("meta"):
        model = ImageBind("huge")
    with pytest.raises(ValueError) as err:
        load_state_dict_strict(model, state)
    message = str(err.value)
    expected = {"missing": "bias_v", "unexpected": "layer_scale_gamma1", "shape": "pos_embed",
                "foreign": "module.visual.proj"}[change]
    assert expected in message


def test_a_checkpoint_of_another_size_is_refused():
    with torch.device("meta"):
        model = ImageBind("tiny")
    with pytest.raises(ValueError, match="size mismatch"):
        load_state_dict_strict(model, meta_state(official_layout("huge")))
