"""AVSyncD's video layers (paper §4.2), each a small module wrapped around or added to a
pretrained Stable Diffusion UNet:

    frames.py               FrameContext: how many frames are folded into the batch axis
    attention.py            multi-head attention through F.scaled_dot_product_attention
    first_frame_conv.py     FirstFrameConv2d: 2D conv + zero-init residual over frames (1, t-1, t)
    frame_norm.py           FrameGroupNorm: GroupNorm whose statistics pool all frames (authors' ResNets)
    temporal_attention.py   TemporalAttention: attention across frames at each pixel, zero-init out-proj
    audio_attention.py      AudioCrossAttention: per-frame masked cross-attention to audio tokens
    transformer_block.py    VideoTransformerBlock: SD's block with first-frame spatial attention,
                            audio and temporal attention inserted
"""

from model.layers.attention import multihead_attention
from model.layers.audio_attention import AudioCrossAttention
from model.layers.first_frame_conv import FirstFrameConv2d, temporal_lookup
from model.layers.frame_norm import FrameGroupNorm
from model.layers.frames import FrameContext, VideoConditioning
from model.layers.temporal_attention import TemporalAttention
from model.layers.transformer_block import VideoTransformerBlock

__all__ = [
    "AudioCrossAttention", "FirstFrameConv2d", "FrameContext", "FrameGroupNorm", "TemporalAttention",
    "VideoConditioning", "VideoTransformerBlock", "multihead_attention", "temporal_lookup",
]
