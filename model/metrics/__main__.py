"""`python -m model.metrics fid|fvd --real DIR --generated DIR --weights FILE [--protocol asva|standard]`

Each video file in a folder is one clip (its first 12 frames; 16 for the standard FVD). FID is
over frames 2..12 of every clip. Prints JSON with the number under `fid` / `fvd` and what
protocol produced it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from curation.media import MediaError

ASVA_NUM_FRAMES = 12


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model.metrics", description=__doc__.split("\n\n")[0])
    parser.add_argument("metric", choices=["fid", "fvd"])
    parser.add_argument("--real", required=True, help="folder of ground-truth clips (one video file per clip)")
    parser.add_argument("--generated", required=True, help="folder of generated clips (one video file per clip)")
    parser.add_argument("--weights", required=True,
                        help="fid: pt_inception-2015-12-05-6726825d.pth (pytorch-fid); fvd: i3d_torchscript.pt (StyleGAN-V)")
    parser.add_argument("--protocol", choices=["asva", "standard"], default="asva",
                        help="asva: the paper's (FID 229², FVD 12 frames 224²); standard: torchmetrics' FID (299²), "
                        "StyleGAN-V's 16-frame FVD")
    parser.add_argument("--bn-mode", choices=["eval", "authors-train"], default="eval",
                        help="FID Inception BatchNorm: eval (default) or the authors' training-mode batch statistics")
    parser.add_argument("--real-clips-per-video", type=int, default=1,
                        help="authors-train only: consecutive real clips batched in one call (the authors: the "
                        "clips of one ground-truth video)")
    parser.add_argument("--batch-size", type=int, default=None, help="frames (fid) / clips (fvd) per network call")
    parser.add_argument("--device", default="cpu")
    return parser


def run(args: argparse.Namespace) -> dict:
    from model.metrics.clips import read_clips

    if args.metric == "fvd":
        from model.metrics.fvd import NUM_FRAMES, fvd, load_i3d

        net = load_i3d(args.weights, args.device)  # a missing file fails before any decoding
        frames = NUM_FRAMES[args.protocol]
        real, generated = (read_clips(d, frames, progress=True) for d in (args.real, args.generated))
        value = fvd(real, generated, net, args.protocol, batch_size=args.batch_size or 8)
        protocol = {"protocol": args.protocol, "frames_per_clip": frames}
    else:
        from model.metrics.fid import fid, load_fid_inception

        net = load_fid_inception(args.weights, args.device)
        real, generated = (read_clips(d, ASVA_NUM_FRAMES, progress=True) for d in (args.real, args.generated))
        value = fid(real, generated, net, args.protocol, args.bn_mode, args.real_clips_per_video,
                    batch_size=args.batch_size or 50)
        protocol = {"protocol": args.protocol, "bn_mode": args.bn_mode, "frames_per_clip": ASVA_NUM_FRAMES,
                    "frames_used": f"2..{ASVA_NUM_FRAMES}"}
    return {args.metric: value, **protocol, "num_real_clips": len(real), "num_generated_clips": len(generated),
            "weights": str(args.weights)}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.bn_mode != "eval" and (args.metric != "fid" or args.protocol != "asva"):
        print("error: --bn-mode authors-train applies to the asva FID only", file=sys.stderr)
        return 2
    try:
        result = run(args)
    except (FileNotFoundError, ValueError, MediaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
