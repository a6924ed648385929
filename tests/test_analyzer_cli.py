"""The pipeline from a photo to faces, and the CLI around it (untrained weights: plumbing only;
the shipped models' accuracy is tested in test_shipped_models.py)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fer.emotions import EMOTIONS
from fer.errors import ModelNotFoundError
from fer.serving.analyzer import Analyzer
from tests.shared_data import ROOT, yunet_file


@pytest.fixture
def photo_files(tmp_path, astronaut, two_faces):
    one = tmp_path / "astronaut.jpg"
    two = tmp_path / "two.png"
    Image.fromarray(astronaut).save(one, quality=95)
    Image.fromarray(two_faces).save(two)
    return one, two


def _run_cli(*args, env_extra=None, cwd=ROOT):
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "fer", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=240,
    )


@pytest.mark.parametrize("detector", ["haar", "yunet"])
def test_analyzer_end_to_end_on_real_photo(models_env, astronaut, monkeypatch, detector):
    if detector == "yunet":  # only that case needs the file (skipped without it)
        monkeypatch.setenv("FER_YUNET_MODEL", str(yunet_file()))
    analyzer = Analyzer(model="shallow", detector=detector)
    assert analyzer.notice is None and analyzer.detector.name == detector
    faces = analyzer.analyze(astronaut)
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert 150 < x + w / 2 < 300 and 50 < y + h / 2 < 200  # around her face
    assert faces[0].probabilities.shape == (7,)
    assert abs(float(faces[0].probabilities.sum()) - 1) < 1e-4
    assert faces[0].label in EMOTIONS and 0 < faces[0].confidence <= 1
    d = faces[0].to_dict()
    assert list(d["scores"]) == list(EMOTIONS) and d["label"] == faces[0].label
    # the same frame as BGR gives the same result
    bgr = faces_bgr = analyzer.analyze_frame(np.ascontiguousarray(astronaut[:, :, ::-1]))
    assert bgr[0].box == faces[0].box
    assert np.allclose(faces_bgr[0].probabilities, faces[0].probabilities, atol=1e-5)


def test_all_faces_classified_in_one_batch(models_env, two_faces):
    analyzer = Analyzer(model="shallow", detector="haar")
    calls = []
    real = analyzer.classifier

    class Spy:
        input_size = real.input_size

        def __call__(self, batch, tta=False):
            calls.append(len(batch))
            return real(batch, tta=tta)

    analyzer.classifier = Spy()
    faces = analyzer.analyze(two_faces)
    assert len(faces) == 2 and calls == [2]
    assert faces[0].box[0] < faces[1].box[0]


def test_tta_averages_the_mirror(models_env, astronaut):
    plain = Analyzer(model="deep", detector="haar").analyze(astronaut)[0].probabilities
    tta = Analyzer(model="deep", detector="haar", tta=True).analyze(astronaut)[0].probabilities
    assert not np.allclose(plain, tta)
    assert abs(float(tta.sum()) - 1) < 1e-4


def test_missing_model_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="no trained model is installed.*fer train"):
        Analyzer(model="shallow", detector="haar")


@pytest.mark.parametrize("detector", ["haar", "yunet"])
def test_cli_predict_finds_two_faces(models_env, photo_files, tmp_path, detector):
    _, two = photo_files
    out = tmp_path / "annotated.png"
    env = {"FER_MODELS_DIR": str(models_env)}
    if detector == "yunet":  # only that case needs the file (skipped without it)
        env["FER_YUNET_MODEL"] = str(yunet_file())
    r = _run_cli("predict", two, "--detector", detector, "--json", "--out", out, env_extra=env)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result[0]["image"] == str(two) and len(result[0]["faces"]) == 2
    face = result[0]["faces"][0]
    assert set(face) >= {"box", "label", "confidence", "scores"} and len(face["box"]) == 4
    annotated = np.asarray(Image.open(out))
    assert annotated.shape[:2] == (512, 1024)


def test_cli_predict_folder_lines_and_csv(models_env, photo_files, tmp_path):
    folder = photo_files[0].parent
    csv = tmp_path / "faces.csv"
    r = _run_cli(
        "predict",
        folder,
        "--detector",
        "haar",
        "--csv",
        csv,
        env_extra={"FER_MODELS_DIR": str(models_env)},
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3 and all(" face " in line for line in lines)
    assert len(csv.read_text().strip().splitlines()) == 4  # header + 3 faces


def test_cli_bad_files_one_line_each(models_env, tmp_path, astronaut):
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture\n")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    good = tmp_path / "good.jpg"
    Image.fromarray(astronaut).save(good)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:5000])
    for bad in (text, empty, truncated):
        r = _run_cli(
            "predict", bad, "--detector", "haar", env_extra={"FER_MODELS_DIR": str(models_env)}
        )
        assert r.returncode != 0
        assert "Traceback" not in r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and bad.name in lines[0]


def test_cli_without_models_says_how_to_train(tmp_path, astronaut):
    photo = tmp_path / "a.png"
    Image.fromarray(astronaut).save(photo)
    r = _run_cli("predict", photo, env_extra={"FER_MODELS_DIR": str(tmp_path / "none")})
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert "no trained model is installed" in r.stderr and "python -m fer train" in r.stderr


def test_cli_missing_path_and_bad_dataset(tmp_path):
    r = _run_cli("predict", tmp_path / "nope.jpg")
    assert (
        r.returncode != 0 and r.stderr.strip() == f"error: {tmp_path / 'nope.jpg'} does not exist"
    )
    r = _run_cli("evaluate", "--data", tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr and "test/" in r.stderr
