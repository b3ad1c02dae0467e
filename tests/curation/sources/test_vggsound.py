from pathlib import Path

import pytest

from curation.sources.collect import collect_items
from curation.sources.ids import is_safe_id
from curation.sources.vggsound import (label_folder, normalise_label, read_avsync15_list, read_class_list,
                                       read_vggsound_csv, select_classes, with_urls)

AVSYNC15_CLASSES = Path(__file__).resolve().parents[3] / "curation" / "sources" / "avsync15_classes.txt"


def test_split_file_layout_with_crlf_and_quoted_labels(fixtures_dir):
    items = read_vggsound_csv(fixtures_dir / "sources" / "vggsound_test_subset.csv")
    assert len(items) == 27
    assert items[0].video_id == "glLQrEijrKg_000300" and items[0].start_s == 300.0 and items[0].end_s == 310.0
    assert items[0].label == "playing hammond organ"  # no stray '\r'
    labels = {i.label for i in items}
    assert "heart sounds, heartbeat" in labels and "donkey, ass braying" in labels
    dash = [i for i in items if i.ytid and i.ytid.startswith("-")]
    assert [i.video_id for i in dash] == ["-XxUW9gW6mc_000060", "-Tok_g_jgE0_000268"]


def test_vggsound_csv_layout_with_a_header_line(fixtures_dir):
    items = read_vggsound_csv(fixtures_dir / "sources" / "landscape_subset.csv")
    assert len(items) == 14
    assert (items[0].video_id, items[0].label, items[0].split) == ("MJ9-HmGWw1k_000180", "wind noise", "train")


def test_hostile_rows_are_kept_as_unsafe_items(tmp_path):
    csv = tmp_path / "hostile.csv"
    csv.write_text('abcdefghijk,5,dog barking,train\n"; rm -rf ~",0,dog barking,train\n'
                   "../../x,0,dog barking,test\n--exec=id,12,dog barking,test\nok_id,notanumber,dog barking,test\n")
    items = with_urls(read_vggsound_csv(csv))
    assert items[0].url == "https://www.youtube.com/watch?v=abcdefghijk"
    for item in items[1:]:
        assert item.ytid is None and item.url is None  # never downloaded; the pipeline records unsafe_id
    # '--exec=id' is made of safe characters but contains '=': unsafe.
    assert not is_safe_id("--exec=id") and is_safe_id("-dash_Start")


def test_class_selection_accepts_every_spelling_of_a_label(fixtures_dir):
    labels = read_class_list(AVSYNC15_CLASSES)
    assert len(labels) == 19 and "playing violin, fiddle" in labels
    for spelling in ("playing violin, fiddle", "playing_violin_fiddle", "playing_violin__fiddle"):
        assert normalise_label(spelling) == "playing_violin_fiddle"
    assert label_folder("playing violin, fiddle") == "playing_violin__fiddle"
    items = read_vggsound_csv(fixtures_dir / "sources" / "vggsound_test_subset.csv")
    assert {i.label for i in select_classes(items, ["donkey_ass_braying", "rope skipping"])} == {
        "donkey, ass braying", "rope skipping"}


def test_avsync15_list(fixtures_dir):
    items = read_avsync15_list(fixtures_dir / "sources" / "asva_subset.csv")
    assert len(items) == 6 and {i.split for i in items} <= {"train", "test"}
    assert all(i.end_s - i.start_s == 10.0 for i in items)


def test_url_templates_are_validated_and_filled(fixtures_dir):
    items = read_vggsound_csv(fixtures_dir / "sources" / "vggsound_test_subset.csv")[:1]
    [item] = with_urls(items, "http://mirror/{ytid}_{start:06d}-{end}.mp4")
    assert item.url == "http://mirror/glLQrEijrKg_000300-310.mp4"
    with pytest.raises(ValueError, match="unknown field"):
        with_urls(items, "http://mirror/{id}.mp4")
    with pytest.raises(ValueError, match="names no clip"):
        with_urls(items, "http://mirror/{start}.mp4")


def test_collect_items_reads_a_csv_with_classes_and_limit(fixtures_dir, tmp_path):
    classes = tmp_path / "classes.txt"
    classes.write_text("# two classes\nrope skipping\nwind rustling leaves\n")
    items = collect_items(csv=fixtures_dir / "sources" / "vggsound_test_subset.csv", classes=classes,
                          url_template="http://127.0.0.1:1/{ytid}.mp4")
    assert [i.video_id for i in items] == ["-XxUW9gW6mc_000060", "-Tok_g_jgE0_000268"]
    assert items[0].url == "http://127.0.0.1:1/-XxUW9gW6mc.mp4"
    assert len(collect_items(csv=fixtures_dir / "sources" / "vggsound_test_subset.csv", limit=3)) == 3
    with pytest.raises(ValueError):
        collect_items()
