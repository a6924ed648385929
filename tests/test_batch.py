"""Photo batches: uploads and zip archives in, one result per photo out; bad files reported in
their own row while the rest go on; zip bombs refused."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from fer.emotions import EMOTIONS
from fer.errors import FerError
from fer.jobs.batch import (
    analyze_batch,
    batch_summary,
    expand_items,
    items_digest,
    results_to_json,
)
from fer.output.results import IMAGE_COLUMNS as ROW_FIELDS
from fer.output.results import Results, rows_to_csv
from fer.output.results import image_rows as results_to_rows
from fer.serving.analyzer import Analyzer
from fer.vision.image_io import list_images


def _jpeg(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            if name.endswith("/"):
                archive.writestr(zipfile.ZipInfo(name), b"")
            else:
                archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def analyzer(models_env):
    return Analyzer(model="shallow", detector="haar")


def test_batch_with_good_bad_and_zipped_photos(analyzer, astronaut, two_faces):
    good = _jpeg(astronaut)
    archive = _zip(
        {
            "holiday/": b"",
            "holiday/two.jpg": _jpeg(two_faces),
            "one.png": good,
            "__MACOSX/holiday/._two.jpg": b"resource fork",
            ".hidden.jpg": good,
            "readme.txt": b"not a photo",
            "broken.jpg": good[:3000],
        }
    )
    progress = []
    results = analyze_batch(
        [("astronaut.jpg", good), ("notes.jpg", b"this is not a picture"), ("photos.zip", archive)],
        analyzer,
        progress=lambda done, total, elapsed: progress.append((done, total, elapsed)),
    )
    names = [r["image"] for r in results]
    assert names == [
        "astronaut.jpg",
        "notes.jpg",
        "photos.zip/holiday/two.jpg",
        "photos.zip/one.png",
        "photos.zip/broken.jpg",
    ]
    assert progress[-1][:2] == (5, 5) and [p[0] for p in progress] == [1, 2, 3, 4, 5]
    by_name = dict(zip(names, results))
    assert len(by_name["astronaut.jpg"]["faces"]) == 1
    assert len(by_name["photos.zip/holiday/two.jpg"]["faces"]) == 2
    assert len(by_name["photos.zip/one.png"]["faces"]) == 1
    for bad in ("notes.jpg", "photos.zip/broken.jpg"):
        assert bad in by_name[bad]["error"] and not by_name[bad]["faces"]
        assert "thumbnail" not in by_name[bad]
    # thumbnails: small annotated JPEGs for a gallery
    thumb = np.asarray(Image.open(io.BytesIO(by_name["photos.zip/holiday/two.jpg"]["thumbnail"])))
    assert thumb.shape == (128, 256, 3)
    # rows for the table and CSV: one per face, one per failed photo
    rows = results_to_rows(results)
    assert len(rows) == 1 + 1 + 2 + 1 + 1
    face_rows = [r for r in rows if not r["error"]]
    assert all(r["label"] in EMOTIONS and set(EMOTIONS) <= set(r) for r in face_rows)
    assert [r["face"] for r in rows if r["image"].endswith("two.jpg")] == [1, 2]
    assert rows_to_csv(rows).splitlines()[0] == ",".join(ROW_FIELDS)
    distribution = Results.from_images(results).distribution()
    assert list(distribution) == list(EMOTIONS) and sum(distribution.values()) == 4
    assert batch_summary(results) == {"photos": 5, "errors": 2, "no_face": 0, "faces": 4}
    data = json.loads(results_to_json(results))
    assert len(data) == 5 and all("thumbnail" not in r for r in data)
    assert data[0]["faces"][0]["label"] in EMOTIONS


def test_zip_limits_and_bad_archives(analyzer, astronaut):
    good = _jpeg(astronaut)
    archive = _zip({"a.jpg": good, "b.jpg": good, "c.jpg": good})
    results = analyze_batch([("many.zip", archive)], analyzer, max_files=2)
    assert (
        len(results) == 1
        and "3 images" in results[0]["error"]
        and "at most 2" in results[0]["error"]
    )
    results = analyze_batch(
        [("big.zip", archive), ("ok.jpg", good)], analyzer, max_bytes=len(good) * 2
    )
    assert "big.zip unpacks to" in results[0]["error"] and "at most" in results[0]["error"]
    assert len(results[1]["faces"]) == 1  # the rest of the batch goes on
    results = analyze_batch(
        [("fake.zip", b"PK but not really a zip"), ("empty.zip", _zip({"notes.txt": b"x"}))],
        analyzer,
    )
    assert "fake.zip is not a readable zip archive" in results[0]["error"]
    assert "empty.zip holds no images" in results[1]["error"]


def test_zip_entries_are_read_lazily_and_lies_fail_cleanly(astronaut):
    good = _jpeg(astronaut)
    entries = expand_items(
        [("x.zip", _zip({"a.jpg": good, "b.jpg": good}))], max_bytes=int(len(good) * 2.5)
    )
    assert [len(e.read()) for e in entries] == [len(good), len(good)]
    entries = expand_items(
        [("x.zip", _zip({"a.jpg": good, "b.jpg": good}))], max_bytes=int(len(good) * 2.5)
    )
    entries[0].archive.getinfo("b.jpg").file_size = 10  # an archive that lies about its size
    entries[0].read()
    with pytest.raises(FerError, match="x.zip/b.jpg cannot be unpacked"):
        entries[1].read()


def test_paths_and_file_objects(analyzer, astronaut, tmp_path):
    photo = tmp_path / "a.jpg"
    photo.write_bytes(_jpeg(astronaut))
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    archive = tmp_path / "set.zip"
    archive.write_bytes(_zip({"c.jpg": _jpeg(astronaut)}))
    items = [(str(p), p) for p in list_images(tmp_path)]
    items += [("set.zip", archive), ("upload.jpg", io.BytesIO(photo.read_bytes()))]
    results = analyze_batch(items, analyzer, thumbnails=False)
    assert [r["image"].split("/")[-1] for r in results] == ["a.jpg", "b.png", "c.jpg", "upload.jpg"]
    assert [len(r["faces"]) for r in results] == [1, 0, 1, 1]
    assert "error" in results[1] and all("thumbnail" not in r for r in results)


def test_interrupted_batch_keeps_results_so_far(analyzer, astronaut):
    class Interrupt(BaseException):
        pass

    def progress(done, total, elapsed):
        if done == 2:
            raise Interrupt()

    good = _jpeg(astronaut)
    kept: list = []
    with pytest.raises(Interrupt):
        analyze_batch(
            [("a.jpg", good), ("b.jpg", b"bad"), ("c.jpg", good)],
            analyzer,
            progress=progress,
            results=kept,
        )
    assert [r["image"] for r in kept] == ["a.jpg", "b.jpg"] and "error" in kept[1]


def test_items_digest_is_a_key_for_the_same_uploads():
    a = [("a.jpg", b"one"), ("b.jpg", b"two")]
    assert items_digest(a) == items_digest([("a.jpg", b"one"), ("b.jpg", b"two")])
    assert items_digest(a) != items_digest(a[::-1])  # order matters: rows come in that order
    assert items_digest(a) != items_digest([("a.jpg", b"one"), ("b.jpg", b"2")])
    assert items_digest(a) != items_digest([("a.jpg", b"one"), ("c.jpg", b"two")])
