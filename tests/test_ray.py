"""Archives on Ray (``fer.archive``, ``--ray``): the same rows as the single-process run for
a folder of real face photos and for a generated two-face video split into 3 segments, resume
after a run that stopped part-way and after an archive grew, and a worker killed mid-run.

One local Ray instance (2 CPUs, loopback only) serves the whole module; the shipped shallow
model and the Haar detector do the work. The runs that must kill things or start several nodes
are in ``tests/test_ray_cluster.py``."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from fer.cli import main
from fer.config import AnalysisConfig
from fer.output.results import IMAGE_COLUMNS as ROW_FIELDS
from fer.output.results import VIDEO_COLUMNS as VIDEO_FIELDS
from tests.shared_data import ROOT
from tests.test_video import face_square

LOOPBACK_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
}
# before Ray is imported: a single-node instance then listens on 127.0.0.1 (Ray reads the
# switch when it is imported); the fixture below sets the rest for the module's runs only
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")
HAAR = AnalysisConfig(detector="haar")


def read_csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def make_photo_folder(folder: Path, photo: np.ndarray, copies: int = 1) -> Path:
    """Real faces in several forms (the astronaut, mirrored, two side by side, grey, small,
    rotated), a photo without a face, and a file that is not an image."""
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    forms = {
        "astronaut.jpg": photo,
        "mirror.png": photo[:, ::-1],
        "pair.png": np.concatenate([photo, photo[:, ::-1]], axis=1),
        "grey.png": np.asarray(Image.fromarray(photo).convert("L")),
        "small.jpg": cv2.resize(photo, (256, 256), interpolation=cv2.INTER_AREA),
        "rotated.png": np.ascontiguousarray(np.rot90(photo, 2)),
        "coffee.jpg": data.coffee(),
    }
    for copy in range(copies):
        for name, image in forms.items():
            stem, suffix = name.split(".")
            Image.fromarray(image).save(folder / f"{stem}{copy:02d}.{suffix}")
    (folder / "broken.jpg").write_text("not a photo")
    return folder


def make_two_face_clip(
    path,
    photo: np.ndarray,
    seconds: float = 15.0,
    fps: int = 10,
    gop: int = 20,
    absent: tuple[int, int] = (60, 85),
) -> Path:
    """Two faces (the astronaut and her mirror image) drifting on grey, the second one leaving
    the picture for ``absent`` frames (so it comes back with a new ID); a key frame every
    ``gop`` frames, so segments really seek."""
    w, h, side = 480, 240, 200
    face = face_square(photo, side)
    mirror = face[:, ::-1]
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.gop_size = gop
        for i in range(int(round(seconds * fps))):
            canvas = np.full((h, w, 3), 90, np.uint8)
            x = int(20 + 6 * np.sin(i / 4))
            canvas[20 : 20 + side, x : x + side] = face
            if not absent[0] <= i < absent[1]:
                x2 = int(w - side - 20 + 4 * np.cos(i / 5))
                canvas[20 : 20 + side, x2 : x2 + side] = mirror
            for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return Path(path)


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance on loopback with 2 CPUs for the module (the library joins it)."""
    saved = {k: os.environ.get(k) for k in LOOPBACK_ENV}
    os.environ.update(LOOPBACK_ENV)
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"py_modules": [str(ROOT / "fer")]},
    )
    yield ray
    ray.shutdown()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def shipped_models(monkeypatch):
    monkeypatch.delenv("FER_MODELS_DIR", raising=False)
    if not (ROOT / "models" / "shallow.tflite").exists():
        pytest.fail("models/shallow.tflite (the shipped serving file) is missing")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from skimage import data

    return make_photo_folder(tmp_path_factory.mktemp("archive") / "photos", data.astronaut())


@pytest.fixture(scope="module")
def two_face_clip(tmp_path_factory):
    from skimage import data

    return make_two_face_clip(tmp_path_factory.mktemp("clips") / "two.mp4", data.astronaut())


def test_without_ray_flag_ray_is_not_imported(photos, tmp_path, shipped_models):
    code = (
        "import sys; from fer.cli import main; "
        f"rc = main(['predict', {str(photos)!r}, '--detector', 'haar', '--csv', "
        f"{str(tmp_path / 'x.csv')!r}]); "
        "print('ray' in sys.modules, rc)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=240
    )
    assert r.stdout.strip().splitlines()[-1] == "False 1", r.stderr
    assert len({r["image"] for r in read_csv(tmp_path / "x.csv")}) == 8


def test_photos_on_ray_give_the_single_process_rows_and_json(
    local_ray, photos, tmp_path, shipped_models, capsys
):
    single, on_ray = tmp_path / "single.csv", tmp_path / "ray.csv"
    assert (
        main(["predict", str(photos), "--detector", "haar", "--json", "--csv", str(single)]) == 1
    )  # the broken file
    expected = capsys.readouterr()
    assert (
        main(
            [
                "predict",
                str(photos),
                "--detector",
                "haar",
                "--json",
                "--csv",
                str(on_ray),
                "--ray",
                "--no-progress",
            ]
        )
        == 1
    )
    got = capsys.readouterr()
    assert on_ray.read_bytes() == single.read_bytes()
    assert got.out == expected.out
    rows = read_csv(on_ray)
    assert list(rows[0]) == ROW_FIELDS
    assert len({r["image"] for r in rows}) == 8  # every input, once
    assert [r for r in rows if r["error"] and r["error"] != "no face found"][0]["image"].endswith(
        "broken.jpg"
    )
    assert {r["label"] for r in rows if r["image"].endswith("astronaut00.jpg")} == {"happy"}
    assert "error: broken.jpg" in got.err and "1 node" in got.err
    assert not list(tmp_path.glob("*.sqlite")) and not list(tmp_path.glob(".*partial"))
    results = json.loads(got.out)
    assert [Path(r["image"]).name for r in results][:2] == ["astronaut00.jpg", "broken.jpg"]
    assert len(results[0]["faces"]) == 1 and "error" in results[1]


def test_photo_batches_spread_over_workers_and_resume_keeps_finished_inputs(
    local_ray, photos, tmp_path, shipped_models, capsys
):
    from fer.archive import RunOptions, predict_images, spool_path

    expected = tmp_path / "single.csv"
    main(["predict", str(photos), "--detector", "haar", "--csv", str(expected)])
    table = tmp_path / "faces.csv"

    class Crash(Exception):
        pass

    def crash_after_two(done, total, elapsed):
        if done >= 2:
            raise Crash  # the driver dies part-way

    with pytest.raises(Crash):
        predict_images(
            [photos], table, HAAR, RunOptions(batch_size=1, workers=2), progress=crash_after_two
        )
    assert not table.exists()  # nothing half-written
    assert spool_path(table).exists()
    notes: list[str] = []
    run = predict_images(
        [photos], table, HAAR, RunOptions(batch_size=2, workers=2, resume=True), notice=notes.append
    )
    assert table.read_bytes() == expected.read_bytes()
    assert 2 <= run.kept < 8 and run.analysed == 8 - run.kept
    assert notes == [
        f"resuming: {run.kept} of 8 photos were done before, {8 - run.kept} to analyse"
    ]
    assert len(run.worker_pids) == 2  # two actors, each loading the model once
    assert not spool_path(table).exists()

    # the archive grows: a resumed run analyses only the new photos
    from skimage import data

    extra = tmp_path / "more"
    make_photo_folder(extra, data.astronaut()[:, ::-1], copies=1)
    code = main(
        [
            "predict",
            str(photos),
            str(extra),
            "--detector",
            "haar",
            "--csv",
            str(table),
            "--ray",
            "--resume",
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "resuming: 8 of 16 photos were done before, 8 to analyse" in err
    both = tmp_path / "both.csv"
    main(["predict", str(photos), str(extra), "--detector", "haar", "--csv", str(both)])
    assert table.read_bytes() == both.read_bytes()


def test_a_killed_worker_is_restarted_and_every_photo_comes_once(
    local_ray, tmp_path, shipped_models
):
    from skimage import data

    from fer.archive import RunOptions, predict_images

    folder = make_photo_folder(tmp_path / "many", data.astronaut(), copies=3)  # 22 files
    expected = tmp_path / "single.csv"
    main(["predict", str(folder), "--detector", "haar", "--csv", str(expected)])
    killed: list[int] = []
    wait_for_no_photo_workers()

    def kill_one_worker(done, total, elapsed):
        if done and not killed:
            pids = photo_workers()
            assert len(pids) == 2
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    table = tmp_path / "faces.csv"
    run = predict_images(
        [folder], table, HAAR, RunOptions(batch_size=1, workers=2), progress=kill_one_worker
    )
    assert killed and not Path(f"/proc/{killed[0]}").exists()
    assert len(run.worker_pids - set(killed)) >= 2  # the actor came back in a new process
    assert table.read_bytes() == expected.read_bytes()
    images = [r["image"] for r in read_csv(table)]
    assert len(set(images)) == 22 and run.analysed == 22


def test_long_video_in_three_segments_joins_tracks(
    local_ray, two_face_clip, tmp_path, shipped_models, capsys
):
    single = tmp_path / "single.csv"
    assert (
        main(
            [
                "video",
                str(two_face_clip),
                "--detector",
                "haar",
                "--csv",
                str(single),
                "--no-progress",
            ]
        )
        == 0
    )
    single_out = capsys.readouterr().out
    on_ray = tmp_path / "ray.csv"
    assert (
        main(
            [
                "video",
                str(two_face_clip),
                "--detector",
                "haar",
                "--csv",
                str(on_ray),
                "--ray",
                "--segment-seconds",
                "5",
                "--no-progress",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "ray: 3 segments" in captured.err
    a, b = read_csv(single), read_csv(on_ray)
    assert list(b[0]) == VIDEO_FIELDS and len(a) == len(b)
    ids = {r["face_id"] for r in a}
    assert len(ids) >= 3  # the second face came back with a new ID
    assert {r["face_id"] for r in b} == ids
    key = ("frame", "face_id", "x", "y", "w", "h")
    assert [[r[k] for k in key] for r in b] == [[r[k] for k in key] for r in a]
    same = sum(x["label"] == y["label"] for x, y in zip(a, b))
    assert same >= 0.99 * len(a)
    # the frames either side of the cuts (50 and 100) carry the same faces
    for cut in (50, 100):
        near = [r["face_id"] for r in b if cut - 4 <= int(r["frame"]) < cut + 4]
        assert near == [r["face_id"] for r in a if cut - 4 <= int(r["frame"]) < cut + 4]
    assert captured.out.splitlines()[0] == single_out.splitlines()[0]

    # without smoothing a segment needs no history: the same file to the byte
    raw_single, raw_ray = tmp_path / "raw1.csv", tmp_path / "raw2.csv"
    main(
        [
            "video",
            str(two_face_clip),
            "--detector",
            "haar",
            "--no-smoothing",
            "--csv",
            str(raw_single),
            "--no-progress",
        ]
    )
    main(
        [
            "video",
            str(two_face_clip),
            "--detector",
            "haar",
            "--no-smoothing",
            "--csv",
            str(raw_ray),
            "--ray",
            "--segment-seconds",
            "5",
            "--no-progress",
        ]
    )
    assert raw_ray.read_bytes() == raw_single.read_bytes()


def test_video_folder_on_ray_has_every_video_once_with_error_rows(
    local_ray, two_face_clip, tmp_path, shipped_models, capsys
):
    from tests.test_video import make_face_clip

    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "a_two.mp4").write_bytes(two_face_clip.read_bytes())
    make_face_clip(folder / "b_blank.mp4", None)
    (folder / "c_notes.mp4").write_text("not a video")
    table = tmp_path / "all.csv"
    out_dir = tmp_path / "annotated"
    code = main(
        [
            "video",
            str(folder),
            "--detector",
            "haar",
            "--csv",
            str(table),
            "--ray",
            "--out-dir",
            str(out_dir),
            "--no-progress",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1 and "c_notes.mp4" in captured.err
    rows = read_csv(table)
    assert list(rows[0]) == ["video", *VIDEO_FIELDS, "error"]
    names = [Path(r["video"]).name for r in rows]
    assert names == sorted(names) and set(names) == {"a_two.mp4", "b_blank.mp4", "c_notes.mp4"}
    assert [r["error"] for r in rows if r["video"].endswith("b_blank.mp4")] == ["no face found"]
    assert "not a video file" in [r["error"] for r in rows if r["video"].endswith("c_notes.mp4")][0]
    # the video's rows are those of the single-file command
    single = tmp_path / "single.csv"
    main(["video", str(two_face_clip), "--detector", "haar", "--csv", str(single), "--no-progress"])
    ours = [{k: r[k] for k in VIDEO_FIELDS} for r in rows if r["video"].endswith("a_two.mp4")]
    assert ours == read_csv(single)
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "a_two_annotated.mp4",
        "b_blank_annotated.mp4",
    ]


# --------------------------------------------------------------------------------------------
# processes


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def photo_workers() -> list[int]:
    return [p for p in descendants(os.getpid()) if cmdline(p).startswith("ray::ArchiveWorker")]


def wait_for_no_photo_workers(timeout_s: float = 30.0) -> None:
    """Actors of an earlier run are killed at its end; let their processes go first."""
    import time

    deadline = time.monotonic() + timeout_s
    while photo_workers() and time.monotonic() < deadline:
        time.sleep(0.2)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""
