"""AVSyncD, the audio-synchronized image animation model of ASVA (paper §4).

    config.py              AVSyncDConfig (model / data / train) with presets `tiny` and `paper`
    layers/                first-frame conv, frame GroupNorm, temporal / audio attention, video block
    unet.py                AVSyncUNet: a diffusers UNet2DConditionModel inflated to video
    audio_conditioning.py  the audio-token interface, per-frame segment masks, the stand-in encoder
    encoders/              ImageBind (its own issue)
    stable_diffusion.py    loading an SD folder (diffusers layout); the project's tiny SD folder
    objective.py           first-frame-conditioned denoising loss, null-audio dropout, held-out loss
    data.py                2 s training windows from a clip manifest via curation.media.decode
    synthetic_data.py      generated sync clips written as a manifest (tests, benchmarks, demo)
    train.py               accelerate training loop            `python -m model.train`
    pipeline.py            AVSyncDPipeline (CFG audio guidance), Static baseline
    animate.py             image + sound → mp4 with sound     `python -m model.animate`
    demo.py                train the tiny model briefly, animate the demo pair   `python -m model.demo`

Heavy imports stay in the sub-modules (importing `model` is cheap).
"""
