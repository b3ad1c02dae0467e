import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from curation.config import FilterRule
from curation.filters import apply_filters


def _windows(values):
    return pd.DataFrame({"video_id": ["v"] * len(values), "window_index": range(len(values)), "score": values})


def test_absolute_bounds_record_each_reason():
    rules = [FilterRule(metric="score", min=1.0, max=5.0, low_reason="too_static", high_reason="too_much_motion")]
    out, bounds = apply_filters(_windows([0.5, 1.0, 3.0, 5.0, 9.0, np.nan]), rules)
    assert out["passed"].tolist() == [False, True, True, True, False, False]
    assert out["reasons"].tolist() == ["too_static", "", "", "", "too_much_motion", "score_missing"]
    assert [(b.side, b.value, b.source) for b in bounds] == [("min", 1.0, "absolute"), ("max", 5.0, "absolute")]


def test_quantile_bounds_are_taken_over_the_whole_run():
    values = list(range(100))
    out, bounds = apply_filters(_windows(values), [FilterRule(metric="score", min_quantile=0.1, max_quantile=0.9)])
    assert bounds[0].value == pytest.approx(9.9) and bounds[1].value == pytest.approx(89.1)
    assert out["passed"].sum() == 80  # 10..89


def test_several_failing_rules_are_all_reported():
    frame = _windows([0.0]).assign(loud=[0.0])
    rules = [FilterRule(metric="score", min=1, low_reason="too_static"), FilterRule(metric="loud", min=0.1, low_reason="too_quiet")]
    out, _ = apply_filters(frame, rules)
    assert out["reasons"].tolist() == ["too_static;too_quiet"]


def test_a_rule_on_an_unscored_metric_is_a_clear_error():
    with pytest.raises(KeyError, match="psync"):
        apply_filters(_windows([1.0]), [FilterRule(metric="psync", min=0.5)])


def test_rules_reject_ambiguous_or_empty_bounds():
    with pytest.raises(ValidationError):
        FilterRule(metric="score", min=1, min_quantile=0.1)
    with pytest.raises(ValidationError):
        FilterRule(metric="score")
