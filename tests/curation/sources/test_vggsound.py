"""VGGSound / AVSync15 list readers on real rows (tests/fixtures/sources) and hostile ones."""

import csv

import pytest

from curation.sources.collect import collect_items
from curation.sources.ids import is_rejected, is_safe_id, vggsound_key
from curation.sources.vggsound import (AVSYNC15_CLASSES, avsync15_windows, label_folder, normalise_label,
                                       read_any_list, read_avsync15_list, read_class_folders, read_class_list,
                                       read_vggsound_csv, select_classes, with_urls)

AVSYNC15_FOLDERS = {  # SPEC.md "Curation"
    "baby_babbling_crying", "cap_gun_shooting", "chicken_crowing", "dog_barking", "frog_croaking", "hammering",
    "lions_roaring", "machine_gun_shooting", "playing_cello", "playing_trombone", "playing_trumpet",
    "playing_violin_fiddle", "sharpen_knife", "striking_bowling", "toilet_flushing",
}


@pytest.fixture(scope="module")
def sources(fixtures_dir):
    return fixtures_dir / "sources"


def test_ids():
    assert is_safe_id("-XxUW9gW6mc") and is_safe_id("a_b-C9")
    for bad in ("", "a b", "a/b", "../x", "--exec=id", "a.b", "x" * 65, "é", None, 12):
        assert not is_safe_id(bad)
    assert vggsound_key("-XxUW9gW6mc", 60.0) == "-XxUW9gW6mc_000060"
    assert vggsound_key("abc", 7.9) == "abc_000007"  # whole seconds, as VGGSound names files
    for ytid, start in (("a b", 0), ("abc", -1), ("abc", float("nan")), ("abc", 1e6), ("x" * 60, 0)):
        with pytest.raises(ValueError):
            vggsound_key(ytid, start)


def test_split_file_layout_with_crlf_and_quoted_labels(sources):
    items = read_vggsound_csv(sources / "vggsound_test_subset.csv")
    with open(sources / "vggsound_test_subset.csv", newline="") as handle:
        assert len(items) == len(list(csv.reader(handle))) == 31
    first = items[0]
    assert (first.video_id, first.ytid, first.start_s, first.end_s) == ("glLQrEijrKg_000300", "glLQrEijrKg", 300.0, 310.0)
    assert first.label == "playing hammond organ" and first.split is None  # no stray '\r'
    labels = {i.label for i in items}
    assert {"heart sounds, heartbeat", "engine accelerating, revving, vroom", "playing violin, fiddle"} <= labels
    assert [i.video_id for i in items if i.video_id.startswith("-")] == ["-XxUW9gW6mc_000060", "-Tok_g_jgE0_000268"]
    assert not any(is_rejected(i) for i in items)


def test_vggsound_csv_layout_with_a_header_line(sources):
    items = read_vggsound_csv(sources / "landscape_subset.csv")
    assert len(items) == 14  # the header `ytid,start_time,class,set` is not an item
    assert (items[0].video_id, items[0].label, items[0].split) == ("MJ9-HmGWw1k_000180", "wind noise", "train")
    assert all(i.end_s - i.start_s == 10.0 for i in items)


def test_hostile_rows_are_kept_and_marked_never_dropped(sources):
    items = read_vggsound_csv(sources / "hostile_rows.csv")
    assert len(items) == 13  # every row but the comment
    safe, rejected = [i for i in items if not is_rejected(i)], [i for i in items if is_rejected(i)]
    assert [i.video_id for i in safe] == ["okId_123-x_000030", "-dashStart_000005"]
    assert len(rejected) == 11
    for item in rejected:
        assert item.ytid is None and item.url is None and item.path is None and item.label == "dog barking"
    raw = [i.video_id for i in rejected]
    assert "; rm -rf ~_0" in raw and "--exec=touch pwned_12" in raw and "okId_123-x_inf" in raw
    # URLs are set for safe items only; rejected ones stay unreachable.
    with_url = with_urls(items)
    assert with_url[0].url == "https://www.youtube.com/watch?v=okId_123-x"
    assert all(i.url is None for i in with_url if is_rejected(i))

    split_layout = read_vggsound_csv(sources / "hostile_split.csv")
    assert [is_rejected(i) for i in split_layout] == [True, True, True, False]
    assert split_layout[3].video_id == "-dashStart_000005"


def test_a_file_that_is_no_list_is_an_error(tmp_path):
    (tmp_path / "one.csv").write_text("just-one-column\n")
    with pytest.raises(ValueError, match="one.csv:1"):
        read_vggsound_csv(tmp_path / "one.csv")
    with pytest.raises(FileNotFoundError):
        read_vggsound_csv(tmp_path / "missing.csv")


def test_labels_folders_and_class_selection(sources):
    assert label_folder("playing violin, fiddle") == "playing_violin_fiddle"
    assert label_folder("police car (siren)") == "police_car_siren"
    assert label_folder("dog bow-wow") == "dog_bow-wow"
    assert label_folder("../../etc") == "etc" and label_folder("--x") == "x" and label_folder(" ,") == "unlabelled"
    for spelling in ("playing violin, fiddle", "playing_violin_fiddle", "playing_violin__fiddle", "Playing Violin,Fiddle"):
        assert normalise_label(spelling) == "playing_violin_fiddle"

    items = read_vggsound_csv(sources / "vggsound_test_subset.csv")
    picked = select_classes(items, ["playing_violin__fiddle", "donkey_ass_braying", "dog barking"])
    assert [i.label for i in picked] == ["donkey, ass braying", "playing violin, fiddle", "dog barking"]
    assert select_classes(items, ["dog"]) == []  # exact match, not substring


def test_avsync15_class_list_is_the_paper_classes_as_vggsound_labels(sources):
    folders = read_class_folders(AVSYNC15_CLASSES)
    assert set(folders.values()) == AVSYNC15_FOLDERS
    assert len(read_class_list(AVSYNC15_CLASSES)) == len(folders) == 19
    assert {label for label, folder in folders.items() if folder == "hammering"} == {"hammering nails", "forging swords"}
    with open(sources / "vggsound_stat.csv", newline="") as handle:
        vggsound_labels = {row[0] for row in csv.reader(handle)}
    assert len(vggsound_labels) == 309 and set(folders) <= vggsound_labels
    # the 13 one-label classes: folder = label with ' ' and ',' as '_'
    for label, folder in folders.items():
        if list(folders.values()).count(folder) == 1:
            assert label_folder(label) == folder

    items = read_vggsound_csv(sources / "vggsound_test_subset.csv")
    picked = select_classes(items, read_class_list(AVSYNC15_CLASSES))
    assert [i.label for i in picked] == ["striking bowling", "playing violin, fiddle", "baby babbling",
                                         "dog growling", "dog barking"]


def test_class_list_comments_and_defaults(tmp_path):
    path = tmp_path / "classes.txt"
    path.write_text("# mine\nrope skipping\n\nplaying violin, fiddle\tviolin  # note\n")
    assert read_class_folders(path) == {"rope skipping": "rope_skipping", "playing violin, fiddle": "violin"}


def test_avsync15_list_items_and_windows(sources):
    items = read_avsync15_list(sources / "asva_subset.csv")
    by_id = {i.video_id: i for i in items}
    assert len(items) == 6  # 9 rows, 6 VGGSound segments
    trumpet = by_id["_ZC6yk5iE1I_000026"]
    assert (trumpet.ytid, trumpet.start_s, trumpet.end_s, trumpet.label, trumpet.split) == (
        "_ZC6yk5iE1I", 26.0, 36.0, "playing_trumpet", "train")
    assert by_id["6wHFhrAqt5Q_000023"].split == "test,train"  # its windows sit in both splits
    assert normalise_label(by_id["-BpMHfa2Saw_000030"].label) == "playing_violin_fiddle"
    windows = avsync15_windows(sources / "asva_subset.csv")
    assert [(w.t0_s, w.t1_s) for w in windows["_ZC6yk5iE1I_000026"]] == [(0.5, 5.0), (3.0, 9.0), (7.0, 10.0)]
    assert [w.split for w in windows["6wHFhrAqt5Q_000023"]] == ["train", "test"]
    assert read_any_list(sources / "asva_subset.csv") == items


def test_url_templates_are_validated_and_filled(sources):
    items = read_vggsound_csv(sources / "vggsound_test_subset.csv")[:1]
    [item] = with_urls(items, "http://mirror/{ytid}/{start:06d}-{end}/{video_id}.mp4")
    assert item.url == "http://mirror/glLQrEijrKg/000300-310/glLQrEijrKg_000300.mp4"
    for template, message in [("http://mirror/{id}.mp4", "unknown field"), ("http://m/{ytid.__class__}", "unknown field"),
                              ("http://m/{}.mp4", "unknown field"), ("http://mirror/{start}.mp4", "names no clip"),
                              ("http://m/{ytid:d}.mp4", "cannot be filled"), ("http://m/{ytid", "not a valid"),
                              ("file:///srv/{ytid}.mp4", "http")]:
        with pytest.raises(ValueError, match=message):
            with_urls(items, template)


def test_collect_items_reads_a_csv_with_classes_and_limit(sources, tmp_path):
    classes = tmp_path / "classes.txt"
    classes.write_text("# two classes\nrope skipping\nwind rustling leaves\n")
    items = collect_items(csv=sources / "vggsound_test_subset.csv", classes=classes,
                          url_template="http://127.0.0.1:1/{ytid}.mp4")
    assert [i.video_id for i in items] == ["-XxUW9gW6mc_000060", "-Tok_g_jgE0_000268"]
    assert items[0].url == "http://127.0.0.1:1/-XxUW9gW6mc.mp4"
    assert len(collect_items(csv=sources / "vggsound_test_subset.csv", limit=3)) == 3
    assert len(collect_items(csv=sources / "asva_subset.csv")) == 6
    with pytest.raises(ValueError):
        collect_items()
