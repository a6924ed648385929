"""``python -m fer video``, ``predict --explain`` and ``predict DIR --csv``: outputs written,
one clear stderr line for bad input and no traceback. The cheap cases run ``fer.cli.main`` in
the test process; each kind of command also runs once as a real subprocess."""

from __future__ import annotations

import csv
import json
import os

import pytest
from PIL import Image

from fer.cli import main
from fer.emotions import EMOTIONS
from fer.output.results import IMAGE_COLUMNS as ROW_FIELDS
from fer.output.results import VIDEO_COLUMNS as VIDEO_FIELDS
from tests.test_analyzer_cli import _run_cli
from tests.test_video import N_FRAMES, _audio_file, count_frames, make_face_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from skimage import data

    return make_face_clip(tmp_path_factory.mktemp("cli") / "clip.mp4", data.astronaut())


def _csv_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_video_subprocess_writes_csv_annotated_copy_and_summary(models_env, clip, tmp_path):
    out, table = tmp_path / "annotated.mp4", tmp_path / "faces.csv"
    r = _run_cli(
        "video",
        clip,
        "--detector",
        "haar",
        "--out",
        out,
        "--csv",
        table,
        "--progress",
        env_extra={"FER_MODELS_DIR": str(models_env)},
    )
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "30/30 frames" in r.stderr and "analysed/s" in r.stderr and "ETA" in r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("clip.mp4: 3.0 s, 30 frames at 10.00 fps, 15 analysed")
    assert lines[1].startswith("face 1: seen 0.0-2.8 s in 15 analysed frames, mostly ")
    assert len(lines) == 2
    rows = _csv_rows(table)
    assert list(rows[0]) == VIDEO_FIELDS and len(rows) == 15
    assert {r["face_id"] for r in rows} == {"1"} and all(r["label"] in EMOTIONS for r in rows)
    assert count_frames(out) == (N_FRAMES, 320, 240)


def test_video_json_every_and_no_smoothing(models_env, clip, capsys):
    code = main(
        [
            "video",
            str(clip),
            "--detector",
            "haar",
            "--json",
            "--every",
            "3",
            "--no-smoothing",
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads(captured.out)
    assert data["every"] == 3 and data["smoothing"] == 0 and data["frames_analyzed"] == 10
    assert [r["frame"] for r in data["rows"]] == list(range(0, N_FRAMES, 3))
    assert list(data["rows"][0]) == VIDEO_FIELDS and data["faces"][0]["face_id"] == 1
    assert captured.err == ""


def test_video_bad_input_is_one_line(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    sound = _audio_file(tmp_path / "sound.wav", "pcm_s16le", 8000)
    cases = [
        (text, "is not a video file"),
        (sound, "has no video stream"),
        (tmp_path / "missing.mkv", "does not exist"),
    ]
    for path, expected in cases:
        # no models are needed to say a file is not a video
        r = _run_cli("video", path, env_extra={"FER_MODELS_DIR": str(tmp_path / "none")})
        assert r.returncode == 2 and "Traceback" not in r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and path.name in lines[0]
        assert expected in lines[0]
        assert r.stdout == ""


def test_video_bad_options(models_env, clip, tmp_path, capsys):
    assert main(["video", str(clip), "--every", "0"]) == 2
    assert main(["video", str(clip), "--out", str(tmp_path / "x.avi")]) == 2
    assert main(["video", str(clip), "--smoothing", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)


def test_video_truncated_writes_partial_results_and_fails(models_env, clip, tmp_path, capsys):
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: int(clip.stat().st_size * 0.9)])
    out, table = tmp_path / "partial.mp4", tmp_path / "partial.csv"
    code = main(
        [
            "video",
            str(cut),
            "--detector",
            "haar",
            "--out",
            str(out),
            "--csv",
            str(table),
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "truncated" in err[0]
    rows = _csv_rows(table)
    assert 0 < len(rows) < 15
    frames = count_frames(out)[0]
    assert 0 < frames < N_FRAMES
    assert captured.out.startswith("cut.mp4: ")


def test_predict_explain_writes_one_overlay_per_face(models_env, two_faces, tmp_path):
    photo = tmp_path / "pair.png"
    Image.fromarray(two_faces).save(photo)
    folder = tmp_path / "why"
    r = _run_cli(
        "predict",
        photo,
        "--detector",
        "haar",
        "--json",
        "--explain",
        folder,
        env_extra={"FER_MODELS_DIR": str(models_env)},
    )
    assert r.returncode == 0, r.stderr
    faces = json.loads(r.stdout)[0]["faces"]
    assert len(faces) == 2
    expected = sorted(f"pair_face{i}_{f['label']}.png" for i, f in enumerate(faces, start=1))
    assert sorted(p.name for p in folder.iterdir()) == expected
    overlay = Image.open(folder / expected[0])
    assert overlay.mode == "RGB" and min(overlay.size) >= 160


def test_predict_folder_csv_reports_bad_files_in_their_row(models_env, astronaut, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(astronaut).save(folder / "a.jpg")
    Image.fromarray(astronaut[:, ::-1]).save(folder / "b.png")
    (folder / "c.jpg").write_text("not a photo")
    (folder / "notes.txt").write_text("ignored: not an image name")
    table = tmp_path / "faces.csv"
    code = main(["predict", str(folder), "--detector", "haar", "--csv", str(table)])
    captured = capsys.readouterr()
    assert code == 1  # one file failed, the others were analysed
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "c.jpg" in err[0]
    rows = _csv_rows(table)
    assert list(rows[0]) == ROW_FIELDS
    assert [os.path.basename(r["image"]) for r in rows] == ["a.jpg", "b.png", "c.jpg"]
    assert [r["face"] for r in rows] == ["1", "1", "0"]
    assert rows[2]["error"] and not rows[0]["error"] and rows[0]["label"] in EMOTIONS
    assert len(captured.out.strip().splitlines()) == 2
