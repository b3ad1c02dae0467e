"""Regression (issue 14, defect 7): one huge CSV field or line is a clear error naming the file
and line, read with bounded memory — never `_csv.Error: field larger than field limit`."""

import tracemalloc

import pytest

from curation.sources.collect import collect_items
from curation.sources.vggsound import read_any_list, read_vggsound_csv


def test_a_field_over_128_kib_names_the_file_and_line(tmp_path):
    path = tmp_path / "vggsound.csv"
    path.write_text("abcdefghijk,30,dog barking,test\n" f"xyz,0,{'a' * 200_000},test\n")
    with pytest.raises(ValueError, match=rf"{path}:2: line longer than"):
        read_vggsound_csv(path)


def test_a_quoted_field_over_the_csv_limit_spanning_lines(tmp_path):
    path = tmp_path / "vggsound.csv"
    path.write_text('abcdefghijk,30,dog barking,test\nxyz,0,"' + ("b" * 1000 + "\n") * 200 + '",test\n')
    with pytest.raises(ValueError, match=rf"{path}:\d+: field larger than field limit"):
        read_vggsound_csv(path)


@pytest.mark.parametrize("header", ["", "vid,label,split,new_split,frames_count\n"])
def test_a_huge_line_is_refused_with_bounded_memory(tmp_path, header):
    path = tmp_path / "list.csv"
    with path.open("w") as handle:
        handle.write(header + "abcdefghijk,30,dog barking,test\n")
        handle.write("z" * 30_000_000 + "\n")
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=rf"{path}:\d: line longer than"):
            collect_items(csv=path) if not header else read_any_list(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # bytes: the 30 MB line was never held whole
