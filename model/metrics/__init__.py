"""Evaluation metrics of the paper's Table 1 that compare sets of videos: FID and FVD.

    frechet.py        Fréchet distance of two feature sets (pytorch-fid's number, no sqrtm) and its bootstrap
    fid.py            FID Inception (pytorch-fid layout), asva (229²) and standard (299²) protocols,
                      BatchNorm eval (default) or the authors' training-mode behaviour
    fvd.py            StyleGAN-V's TorchScript I3D, asva (12 frames, 224²) and standard (16 frames)
    weight_files.py   where each weight file is published; missing file → clear error
    clips.py          video files → (T, H, W, 3) uint8 clips via curation.media

CLI: `python -m model.metrics fid|fvd --real DIR --generated DIR --weights FILE [--protocol asva|standard]`.
Heavy imports stay in the sub-modules.
"""
