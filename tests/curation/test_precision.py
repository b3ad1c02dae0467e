"""Mixed precision from what the hardware does natively (AVX2-only vs AVX-512/AMX flag sets)."""

import pytest

from curation.precision import choose_precision, cpu_flags, cpu_has_native_bf16

AVX2_ONLY = frozenset({"sse4_2", "avx", "avx2", "fma", "f16c"})  # the machine
SAPPHIRE = AVX2_ONLY | {"avx512f", "avx512bw", "avx512_bf16", "amx_bf16", "amx_tile"}


def test_avx2_only_cpu_never_gets_bf16_by_default():
    choice = choose_precision("auto", "cpu", flags=AVX2_ONLY, capability="AVX2")
    assert choice.mixed_precision == "no" and "no native bf16" in choice.reason


def test_native_bf16_cpu_gets_bf16_only_when_measured_faster():
    assert choose_precision("auto", "cpu", flags=SAPPHIRE, capability="AVX512", measure=1.6).mixed_precision == "bf16"
    slower = choose_precision("auto", "cpu", flags=SAPPHIRE, capability="AVX512", measure=0.8)
    assert slower.mixed_precision == "no" and "0.80x" in slower.reason


def test_bf16_flags_without_avx512_kernels_are_not_native():
    # e.g. ATEN_CPU_CAPABILITY=avx2 on a Sapphire Rapids CPU: torch's kernels do not use the bf16 units
    native, why = cpu_has_native_bf16(SAPPHIRE, "AVX2")
    assert not native and "emulate" in why
    assert choose_precision("auto", "cpu", flags=SAPPHIRE, capability="AVX2", measure=False).mixed_precision == "no"


def test_explicit_choices_are_honoured_on_cpu(caplog):
    assert choose_precision("no", "cpu", flags=SAPPHIRE, capability="AVX512").mixed_precision == "no"
    assert choose_precision("fp16", "cpu", flags=SAPPHIRE, capability="AVX512").mixed_precision == "no"
    with caplog.at_level("WARNING"):
        forced = choose_precision("bf16", "cpu", flags=AVX2_ONLY, capability="AVX2")
    assert forced.mixed_precision == "bf16" and "slower" in caplog.text


@pytest.mark.parametrize("bf16, expected", [(True, "bf16"), (False, "fp16")])
def test_cuda_auto(bf16, expected):
    assert choose_precision("auto", "cuda", cuda_bf16=bf16).mixed_precision == expected
    assert choose_precision("no", "cuda", cuda_bf16=bf16).mixed_precision == "no"


def test_this_machine_reads_its_flags_and_decides():
    flags = cpu_flags()
    choice = choose_precision("auto", "cpu")
    if not ({"avx512_bf16", "amx_bf16"} & flags):
        assert choice.mixed_precision == "no"
    assert choice.reason.startswith("auto:")


def test_cpuinfo_parsing(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nflags\t\t: fpu avx2 amx_bf16\n\nprocessor\t: 1\nflags\t\t: fpu avx2 amx_bf16\n")
    assert cpu_flags(path) == {"fpu", "avx2", "amx_bf16"}
    assert cpu_flags(tmp_path / "missing") == frozenset()
