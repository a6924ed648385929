"""FER2013's one label against FER+'s ten votes on the same faces (the Models page's note)."""

from __future__ import annotations

import cv2

from fer.emotions import EMOTIONS
from fer.quality.label_sets import compare_label_sets
from tests.test_ferplus import ROWS, write_ferplus

# FER2013's label of each FER+ row (same faces, in ROWS order)
FER2013_LABELS = ["happy", "sad", "neutral", "neutral", "neutral", "neutral"]


def two_label_sets(root):
    """FER+ Valid (synthetic faces, :data:`ROWS` votes) and FER2013's test folder holding the
    same faces as JPEGs with :data:`FER2013_LABELS`."""
    plus = write_ferplus(root / "ferplus", folders=("FER2013Valid",))
    fer = root / "fer2013"
    for emotion in EMOTIONS:
        (fer / "test" / emotion).mkdir(parents=True)
    for i, label in enumerate(FER2013_LABELS):
        face = cv2.imread(str(plus / "FER2013Valid" / f"fer{i:07d}.png"), cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(str(fer / "test" / label / f"PublicTest_{i}.jpg"), face)
    return plus, fer


def test_agreement_counts_only_strict_majorities_and_shows_the_disagreement(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    plus, fer = two_label_sets(tmp_path)

    result = compare_label_sets(plus, fer)
    assert result.matched == len(ROWS)  # found through JPEG noise
    # strict majorities: happy (agrees) and anger (FER2013 says neutral); the tie, NF, unknown
    # and contempt rows are not scored
    assert result.scored == 2 and result.agreement == 0.5
    assert result.commonest == (("neutral", "angry", 1),)
    [example] = result.examples
    assert (example.fer2013_label, example.majority) == ("neutral", "angry")
    assert example.votes == {"neutral": 1, "anger": 6, "disgust": 2, "fear": 1}
    assert example.face.shape == (48, 48)


def test_models_page_shows_both_accuracies_and_where_the_labels_disagree(
    untrained_models_dir, tmp_path, monkeypatch
):
    import json
    import shutil

    from streamlit.testing.v1 import AppTest

    from tests.shared_data import ROOT

    models = tmp_path / "models"
    shutil.copytree(untrained_models_dir, models)
    card = json.loads((models / "deep.json").read_text())
    card["evaluations"] = [
        {"split": "FER+ Valid", "tta": "flip", "accuracy": 0.8123, "command": "python -m fer"},
        {"split": "PublicTest", "tta": "flip", "accuracy": 0.6789, "command": "python -m fer"},
    ]
    (models / "deep.json").write_text(json.dumps(card))
    monkeypatch.setenv("FER_MODELS_DIR", str(models))
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    plus, fer = two_label_sets(tmp_path)
    seen = {}
    for present in (True, False):
        monkeypatch.setenv("FERPLUS_DIR", str(plus if present else tmp_path / "none"))
        monkeypatch.setenv("FER2013_DIR", str(fer))
        at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
        at.run()
        at.switch_page("pages/models.py").run()
        assert not at.exception, at.exception
        seen[present] = (
            " ".join(m.value for m in at.markdown),
            " ".join(str(c.value) for c in at.caption),
            len(at.get("image")),
        )
        overview = at.dataframe[0].value.set_index("model")
    assert overview.loc["deep", "FER+ Valid (flip TTA)"] == "81.2 %"
    assert overview.loc["deep", "FER2013 PublicTest (flip TTA)"] == "67.9 %"
    assert overview.loc["shallow", "FER+ Valid (flip TTA)"] == "not recorded"
    text, captions, images = seen[True]
    assert "FER2013's label is the majority's on **50%**" in text
    assert "FER2013: **neutral**; FER+: **angry** (neutral 1, anger 6" in captions
    assert images == 1
    assert "Set FERPLUS_DIR" in seen[False][1] and seen[False][2] == 0
