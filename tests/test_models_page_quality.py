"""The Models page shows the robustness suite and the reliability diagram from the cards."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.shared_data import ROOT


def test_models_page_shows_robustness_and_reliability(tmp_path, monkeypatch):
    """The shipped shallow card's robustness and calibration entries: a bar chart and a
    reliability diagram more on the Models page, with the commands that measured them."""
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    card = json.loads((ROOT / "models" / "shallow.json").read_text())
    if "robustness" not in card or "calibration" not in card:
        pytest.fail("models/shallow.json lacks its robustness or calibration entry")
    shutil.copy(ROOT / "models" / "shallow.tflite", tmp_path / "shallow.tflite")
    (tmp_path / "shallow.json").write_text(json.dumps(card))
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    seen = {}
    for with_entries in (True, False):
        if not with_entries:
            plain = {k: v for k, v in card.items() if k not in ("robustness", "calibration")}
            (tmp_path / "shallow.json").write_text(json.dumps(plain))
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
        at.run()
        at.switch_page("pages/models.py").run()
        assert not at.exception, at.exception
        seen[with_entries] = (
            len(at.get("vega_lite_chart")),
            " ".join(c.value for c in at.code),
            " ".join(str(c.value) for c in at.caption),
            at.dataframe[0].value["ECE"].iloc[0],
        )
    charts, codes, captions, ece = seen[True]
    assert charts == seen[False][0] + 2
    assert "python -m fer robustness --model shallow" in codes
    assert "python -m fer calibrate --model shallow" in codes
    assert "mean drop" in captions and "15 bins" in captions
    assert ece == f"{100 * card['calibration']['ece_shown']:.1f} %"
    assert (
        "Robustness not recorded" in seen[False][2] and "Calibration not recorded" in seen[False][2]
    )
    assert seen[False][3] == "not recorded"


def test_reliability_and_robustness_charts():
    from fer.output.charts import reliability_chart, robustness_chart

    bins = [
        {"low": 0.4, "high": 0.47, "count": 10, "confidence": 0.43, "accuracy": 0.3},
        {"low": 0.93, "high": 1.0, "count": 90, "confidence": 0.97, "accuracy": 0.9},
    ]
    spec = reliability_chart({"uncalibrated": bins, "T = 1.3": bins[:1]}).to_dict()
    assert len(spec["layer"]) == 3  # the diagonal, the lines, the points
    rows = [r for d in spec["datasets"].values() for r in d if "series" in r]
    assert sorted((r["series"], r["faces"]) for r in rows) == [
        ("T = 1.3", 10),
        ("uncalibrated", 10),
        ("uncalibrated", 90),
    ]
    spec = robustness_chart(
        [
            {"shift": "clean", "accuracy": 0.7, "drop": 0.0},
            {"shift": "blur 1.5", "accuracy": 0.5, "drop": 0.2},
        ]
    ).to_dict()
    values = [r for d in spec["datasets"].values() for r in d]
    assert {"shift": "blur 1.5", "accuracy": 0.5, "drop": 0.2} in values
    assert {"clean": 0.7} in values  # the rule at the clean accuracy
