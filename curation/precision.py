"""Which mixed precision a trainer uses: chosen from what the hardware does natively.

Both trainers (`sync_classifier.train`, `model.train`) take `train.mixed_precision`:
`auto` (default) | `no` | `fp16` | `bf16`, and call `choose_precision` once. `auto` never picks
a precision that is slower than fp32 on the machine:

- CUDA: bf16 where the GPU supports it (Ampere and later), else fp16.
- CPU: bf16 only when the CPU has native bf16 instructions (`avx512_bf16` or `amx_bf16` in
  /proc/cpuinfo) *and* torch dispatches to AVX-512 kernels there
  (`torch.backends.cpu.get_cpu_capability()`), confirmed by a short measurement (a conv
  forward + backward in both precisions); else fp32. On an AVX2-only CPU bf16 is emulated and
  several times slower (a 2-core AVX2 machine: 15.8 s/step in bf16 vs 2.2 s/step in fp32).

An explicit choice is honoured (fp16 on CPU falls back to fp32: CPU fp16 autocast is emulated);
a choice that is likely slower than fp32 is logged as a warning. The choice and its reason are
logged, and returned so a run can record them.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

Requested = Literal["auto", "no", "fp16", "bf16"]
Precision = Literal["no", "fp16", "bf16"]

NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
# torch.backends.cpu.get_cpu_capability() values under which ATen's vectorised kernels use AVX-512
# (and so the CPU's bf16 instructions).
_AVX512_CAPABILITIES = frozenset({"AVX512", "AVX512_BF16", "AMX", "AMX_BF16", "AVX512_VNNI"})


@dataclass(frozen=True)
class PrecisionChoice:
    """The accelerate `mixed_precision` value to use and why."""

    mixed_precision: Precision
    reason: str

    def as_dict(self) -> dict:
        return {"mixed_precision": self.mixed_precision, "reason": self.reason}


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU feature flags (first processor's `flags` line); empty when unreadable (not Linux)."""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_capability() -> str:
    """The SIMD level torch dispatches to on this CPU ("AVX2", "AVX512", "DEFAULT", ...)."""
    import torch

    return str(torch.backends.cpu.get_cpu_capability())


def cpu_has_native_bf16(flags: frozenset[str] | set[str], capability: str) -> tuple[bool, str]:
    """(native bf16 on this CPU for torch?, why)."""
    found = sorted(NATIVE_BF16_FLAGS & set(flags))
    if not found:
        return False, f"CPU has no native bf16 ({' / '.join(sorted(NATIVE_BF16_FLAGS))} absent; torch capability {capability})"
    if capability.upper() not in _AVX512_CAPABILITIES:
        return False, f"CPU has {', '.join(found)} but torch dispatches {capability} kernels, which emulate bf16"
    return True, f"CPU has native bf16 ({', '.join(found)}; torch capability {capability})"


@functools.lru_cache(maxsize=1)
def measure_cpu_bf16_speedup(repeats: int = 3) -> float:
    """fp32 time / bf16-autocast time of a small conv forward + backward on this CPU (> 1: bf16 is
    faster). About a second; measured once per process."""
    import torch

    conv = torch.nn.Sequential(torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(32, 32, 3, padding=1))
    x = torch.randn(8, 16, 48, 48)

    def best_seconds(bf16: bool) -> float:
        times = []
        for _ in range(repeats + 1):  # the first run warms up (kernel selection, allocation)
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = conv(x).float().square().mean()
            loss.backward()
            times.append(time.perf_counter() - start)
        return min(times[1:])

    return best_seconds(False) / best_seconds(True)


def choose_precision(requested: Requested, device_type: str | None = None, *,
                     flags: frozenset[str] | set[str] | None = None, capability: str | None = None,
                     cuda_bf16: bool | None = None,
                     measure: bool | float = True) -> PrecisionChoice:
    """The precision for a run on `device_type` ("cpu" / "cuda"; default: cuda when available).

    `flags`, `capability`, `cuda_bf16` describe the hardware (default: this machine's);
    `measure` confirms native CPU bf16 by timing (True: measure here; a float: that measured
    fp32/bf16 speed ratio; False: trust the flags).
    """
    import torch

    if device_type is None:
        device_type = "cuda" if torch.cuda.is_available() else "cpu"
    if device_type == "cuda":
        supports_bf16 = torch.cuda.is_bf16_supported() if cuda_bf16 is None else cuda_bf16
        if requested == "auto":
            return (PrecisionChoice("bf16", "auto: the GPU supports bf16") if supports_bf16
                    else PrecisionChoice("fp16", "auto: the GPU has no bf16; fp16 with loss scaling"))
        if requested == "bf16" and not supports_bf16:
            log.warning("mixed_precision=bf16 requested but this GPU has no native bf16: expect it to be slow")
        return PrecisionChoice(requested, f"requested mixed_precision={requested}")

    flags = cpu_flags() if flags is None else flags
    capability = cpu_capability() if capability is None else capability
    native, why = cpu_has_native_bf16(flags, capability)
    if requested == "no":
        return PrecisionChoice("no", "requested mixed_precision=no (fp32)")
    if requested == "fp16":
        log.warning("mixed_precision=fp16 on CPU: fp16 autocast is emulated there; training in fp32 instead")
        return PrecisionChoice("no", "requested fp16, but fp16 is not native on CPU: fp32")
    if requested == "bf16":
        if not native:
            log.warning("mixed_precision=bf16 requested, but %s: expect bf16 to be several times slower than fp32", why)
        return PrecisionChoice("bf16", f"requested mixed_precision=bf16 ({why})")
    if not native:
        return PrecisionChoice("no", f"auto: {why}, so fp32 (emulated bf16 is slower)")
    if measure is False:
        return PrecisionChoice("bf16", f"auto: {why}")
    speedup = measure_cpu_bf16_speedup() if measure is True else float(measure)
    if speedup <= 1.0:
        return PrecisionChoice("no", f"auto: {why}, but bf16 measured {speedup:.2f}x the speed of fp32 here, so fp32")
    return PrecisionChoice("bf16", f"auto: {why}; bf16 measured {speedup:.2f}x faster than fp32")


def resolve_precision(requested: Requested, device_type: str | None = None) -> PrecisionChoice:
    """`choose_precision` for this machine, logged (what trainers call)."""
    choice = choose_precision(requested, device_type)
    log.info("mixed precision: %s (%s)", "fp32" if choice.mixed_precision == "no" else choice.mixed_precision,
             choice.reason)
    return choice
