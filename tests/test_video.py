"""Recorded video: streamed frames, stable face IDs, smoothing, exports and every way a video
file can be bad. Clips are generated here with PyAV from the astronaut photo (3 s at 10 fps,
320x240, the face drifting sideways); most tests use a stub analyzer so they take milliseconds,
one runs the real detector and (untrained) model end to end."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from fer.emotions import EMOTIONS
from fer.errors import VideoError
from fer.jobs.video import analyze_video, analyze_video_bytes, result_to_json
from fer.jobs.video_io import AnnotatedWriter, default_every
from fer.output.results import VIDEO_COLUMNS as VIDEO_FIELDS
from fer.output.results import Results, summarize_faces
from fer.serving.analyzer import Analyzer, FaceResult

FPS, SECONDS, SIZE = 10, 3.0, (320, 240)
N_FRAMES = int(FPS * SECONDS)


def face_square(photo: np.ndarray, side: int) -> np.ndarray:
    """The astronaut's face and shoulders, ``side`` px square. The crop leaves out the shuttle
    at the photo's right: Haar boxed the wall beside it as a second face in 29 of 450 clip
    frames given +-3 grey levels of noise (what another CPU's colour conversion can differ by;
    CI once failed on it), and in 0 of 450 with this crop."""
    return cv2.resize(photo[10:290, 90:370], (side, side), interpolation=cv2.INTER_AREA)


def make_face_clip(
    path,
    photo: np.ndarray | None,
    seconds: float = SECONDS,
    fps: int = FPS,
    size: tuple[int, int] = SIZE,
    codec: str = "libx264",
    fmt: str | None = None,
    rotation: int = 0,
) -> Path:
    """A short clip of ``photo``'s upper middle (the astronaut's face) drifting left and right
    on a grey background; ``photo=None`` gives a faceless clip. MP4s get their index first."""
    w, h = size
    n = int(round(seconds * fps))
    side = int(h * 0.9)
    face = None if photo is None else face_square(photo, side)
    options = {"movflags": "+faststart"} if str(path).endswith(".mp4") else {}
    with av.open(str(path), "w", format=fmt, options=options) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(n):
            canvas = np.full((h, w, 3), 90, np.uint8)
            if face is not None:
                x = int((w - side) / 2 + 6 * np.sin(i / 4))
                y = (h - side) // 2
                canvas[y : y + side, x : x + side] = face
            else:
                canvas[:] = (40 + 3 * i) % 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return Path(path)


def count_frames(path) -> tuple[int, int, int]:
    """(decoded frames, width, height) of a video file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        n = sum(1 for _ in container.decode(stream))
        return n, stream.width, stream.height


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from skimage import data

    folder = tmp_path_factory.mktemp("clips")
    photo = data.astronaut()
    return {
        "face": make_face_clip(folder / "face.mp4", photo),
        "blank": make_face_clip(folder / "blank.mp4", None),
        "mkv": make_face_clip(folder / "face.mkv", photo, fmt="matroska"),
    }


class StubAnalyzer:
    """Finds ``faces`` faces in every frame; their scores alternate between 'happy ahead of
    sad' and 'sad just ahead of happy' -- the flicker smoothing must remove.
    ``fail_at`` raises on that call (a fault part-way through)."""

    model_name = "stub"

    def __init__(self, fail_at: int | None = None, faces: int = 1):
        self.calls = 0
        self.fail_at = fail_at
        self.faces = faces
        self.shapes = []

    def analyze(self, rgb):
        self.calls += 1
        self.shapes.append(rgb.shape)
        if self.fail_at is not None and self.calls >= self.fail_at:
            raise RuntimeError("simulated classifier fault")
        happy, sad = EMOTIONS.index("happy"), EMOTIONS.index("sad")
        p = np.full(7, 0.02, np.float32)
        if self.calls % 2:
            p[happy], p[sad] = 0.50, 0.40
        else:
            p[happy], p[sad] = 0.42, 0.46  # happy on average, but every other frame sad
        drift = self.calls % 3
        return [
            FaceResult((40 + 150 * i + drift, 50, 80, 80), 0.9, p / p.sum())
            for i in range(self.faces)
        ]


def test_rows_ids_every_and_summary(clips):
    stub = StubAnalyzer(faces=2)
    result = analyze_video(clips["face"], stub)
    assert result.error is None and not result.cancelled
    assert result.fps == pytest.approx(FPS) and result.frames_total == N_FRAMES
    assert result.frames_read == N_FRAMES
    assert result.every == default_every(FPS) == 2  # about 5 analysed frames per second
    assert default_every(30.0, 1.0) == 30 and default_every(30.0, None) == 1  # None: every frame
    assert result.frames_analyzed == stub.calls == N_FRAMES // 2
    assert (result.width, result.height) == SIZE
    assert len(result.rows) == 2 * result.frames_analyzed
    for row in result.rows:
        assert list(row) == VIDEO_FIELDS
        assert row["frame"] % 2 == 0
        assert row["time"] == pytest.approx(row["frame"] / FPS, abs=1e-3)
        assert sum(row[e] for e in EMOTIONS) == pytest.approx(1, abs=1e-3)
        assert row["label"] in EMOTIONS and row["confidence"] == max(row[e] for e in EMOTIONS)
    assert {r["face_id"] for r in result.rows} == {1, 2}  # stable IDs, left face first
    assert all(r["face_id"] == (1 if r["x"] < 150 else 2) for r in result.rows)
    faces = result.faces
    assert [f["face_id"] for f in faces] == [1, 2]
    for face in faces:
        assert face["frames"] == result.frames_analyzed
        assert face["first_seen"] == 0 and face["last_seen"] == pytest.approx(2.8)
        assert sum(face[e] for e in EMOTIONS) == pytest.approx(1)
        assert face["dominant"] == "happy" and face["dominant_share"] == face["happy"]
    assert result.message is None
    assert any("face 1" in line and "happy" in line for line in result.summary_lines())


def test_every_override_and_smoothing_stops_flicker(clips):
    raw = analyze_video(clips["face"], StubAnalyzer(), every=3, smoothing=0)
    assert raw.every == 3 and raw.frames_analyzed == 10
    assert [r["frame"] for r in raw.rows] == list(range(0, N_FRAMES, 3))
    labels = [r["label"] for r in raw.rows]
    assert labels[:4] == ["happy", "sad", "happy", "sad"]  # raw scores flicker
    smooth = analyze_video(clips["face"], StubAnalyzer(), every=3, smoothing=0.6)
    assert {r["label"] for r in smooth.rows} == {"happy"}  # smoothed: a steady label
    assert {r["face_id"] for r in smooth.rows} == {1}
    with pytest.raises(Exception, match="every"):
        analyze_video(clips["face"], StubAnalyzer(), every=0)


def test_real_analyzer_end_to_end_with_annotated_video(models_env, clips, tmp_path):
    analyzer = Analyzer(model="shallow", detector="haar")
    out = tmp_path / "sub" / "annotated.mp4"
    result = analyze_video(clips["face"], analyzer, out_path=out)
    assert result.error is None and result.model == "shallow"
    assert result.frames_analyzed == 15 and len(result.rows) == 15  # one face in each
    assert {r["face_id"] for r in result.rows} == {1}
    centres = [r["x"] + r["w"] / 2 for r in result.rows]
    assert 100 < min(centres) and max(centres) < 220
    n, w, h = count_frames(out)
    assert (n, w, h) == (N_FRAMES, *SIZE)  # every frame written, not only analysed ones
    # the annotation is drawn on frames between analysed ones too
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(str(clips["face"])) as container:
        plain = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert np.abs(frames[1].astype(int) - plain[1]).max() > 100
    # and a clip without a face gives no rows, and says so
    blank = analyze_video(clips["blank"], analyzer)
    assert blank.rows == [] and blank.frames_analyzed == 15 and "No face" in blank.message


def test_other_container(clips):
    result = analyze_video(clips["mkv"], StubAnalyzer())
    assert result.error is None and result.frames_read == N_FRAMES
    assert result.frames_total == N_FRAMES  # estimated from the duration
    assert result.frames_analyzed == 15


def test_progress_and_cancel_keep_partial_rows(clips, tmp_path):
    calls = []
    result = analyze_video(
        clips["face"],
        StubAnalyzer(),
        progress=lambda done, total, elapsed: calls.append((done, total, elapsed)),
    )
    assert calls[-1][:2] == (N_FRAMES, N_FRAMES)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    assert all(c[2] >= 0 for c in calls)

    polled = []

    def should_cancel():
        polled.append(1)
        return len(polled) > 12

    out = tmp_path / "partial.mp4"
    result = analyze_video(clips["face"], StubAnalyzer(), should_cancel=should_cancel, out_path=out)
    assert result.cancelled and result.error is None
    assert result.frames_read == 12 and result.frames_analyzed == 6 and len(result.rows) == 6
    assert "Cancelled" in result.message
    assert count_frames(out)[0] == 12  # what was written is a playable file


def test_fault_part_way_keeps_rows_and_closes_output(clips, tmp_path):
    out = tmp_path / "partial.mp4"
    result = analyze_video(clips["face"], StubAnalyzer(fail_at=5), out_path=out)
    assert result.error and "simulated classifier fault" in result.error
    assert len(result.rows) == 4 and result.frames_analyzed == 4
    assert "Stopped" in result.message
    assert count_frames(out)[0] == result.frames_read - 1  # the faulty frame is not written


def test_truncated_video_gives_partial_rows_or_clear_error(clips, tmp_path):
    data = clips["face"].read_bytes()
    seen_partial = False
    for frac in (0.3, 0.9):
        cut = tmp_path / f"cut{int(frac * 100)}.mp4"
        cut.write_bytes(data[: int(len(data) * frac)])
        out = tmp_path / f"cut{int(frac * 100)}_annotated.mp4"
        try:
            result = analyze_video(cut, StubAnalyzer(), out_path=out)
        except VideoError as exc:
            assert cut.name in str(exc) and "\n" not in str(exc)
            assert not out.exists()  # nothing read: no empty output left behind
            continue
        seen_partial = True
        assert result.error and "truncated" in result.error
        assert 0 < result.frames_read < N_FRAMES and result.rows
        assert count_frames(out)[0] == result.frames_read
    assert seen_partial  # the 90 % copy still holds its first frames


def _audio_file(path: Path, codec: str, rate: int) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        samples = 1152 if codec == "mp2" else rate // 4
        for _ in range(8):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, samples), np.int16), format="s16", layout="mono"
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_bad_files_raise_one_clear_video_error(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n")
    empty = tmp_path / "empty.mov"
    empty.write_bytes(b"")
    cases = {
        text: "not a video file",
        empty: "empty",
        tmp_path / "missing.mp4": "does not exist",
        tmp_path: "folder",
        _audio_file(tmp_path / "sound.mkv", "mp2", 44100): "no video stream",
        _audio_file(tmp_path / "sound.wav", "pcm_s16le", 8000): "no video stream",
    }
    for path, expected in cases.items():
        with pytest.raises(VideoError) as info:
            analyze_video(path, StubAnalyzer(), out_path=tmp_path / "never.mp4")
        message = str(info.value)
        assert expected in message and path.name in message and "\n" not in message
        assert "Traceback" not in message
    assert not (tmp_path / "never.mp4").exists()


def test_faceless_video_has_no_rows_and_says_so(clips):
    result = analyze_video(clips["blank"], StubAnalyzer(faces=0))
    assert result.rows == [] and result.faces == [] and result.error is None
    assert result.frames_analyzed == 15
    assert "No face was found in the 15 analysed frames" in result.message
    assert result.summary["message"] == result.message
    frame = Results.from_video(result).to_dataframe()
    assert list(frame.columns) == VIDEO_FIELDS and len(frame) == 0
    assert Results.from_video(result.rows).to_csv().strip() == ",".join(VIDEO_FIELDS)
    assert json.loads(result_to_json(result))["rows"] == []


def test_exports(clips):
    result = analyze_video(clips["face"], StubAnalyzer(faces=2))
    frame = Results.from_video(result).to_dataframe()
    assert list(frame.columns) == VIDEO_FIELDS and len(frame) == 30
    csv_lines = Results.from_video(result).to_csv().strip().splitlines()
    assert csv_lines[0] == ",".join(VIDEO_FIELDS) and len(csv_lines) == 31
    data = json.loads(result_to_json(result))
    assert data["frames_analyzed"] == 15 and data["every"] == 2 and len(data["rows"]) == 30
    assert [f["face_id"] for f in data["faces"]] == [1, 2]
    long = Results.from_video(result).timeline(face_id=2)
    assert list(long.columns) == ["time", "face_id", "emotion", "probability"]
    assert len(long) == 15 * 7 and set(long["emotion"]) == set(EMOTIONS)
    assert summarize_faces([]) == []


def test_upload_bytes_use_temp_files_that_are_removed(clips, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    result = analyze_video_bytes(clips["face"].read_bytes(), StubAnalyzer(), name="clip.mp4")
    assert result.name == "clip.mp4" and len(result.rows) == 15 and result.out_path is None
    annotated = tmp_path / "back.mp4"
    annotated.write_bytes(result.annotated)
    assert count_frames(annotated) == (N_FRAMES, *SIZE)
    assert os.listdir(scratch) == []
    with pytest.raises(VideoError, match="clip.webm"):
        analyze_video_bytes(b"not a video at all", StubAnalyzer(), name="clip.webm")
    assert os.listdir(scratch) == []
    # a fault part-way also leaves nothing behind
    result = analyze_video_bytes(clips["face"].read_bytes(), StubAnalyzer(fail_at=3), name="c.mp4")
    assert result.error and len(result.rows) == 2 and result.annotated
    assert os.listdir(scratch) == []


def test_phone_rotation_is_applied(tmp_path):
    clip = make_face_clip(tmp_path / "portrait.mp4", None, seconds=0.5, rotation=90)
    stub = StubAnalyzer(faces=0)
    result = analyze_video(clip, stub)
    assert (result.width, result.height) == (240, 320)
    assert stub.shapes[0] == (320, 240, 3)


def test_writer_trims_odd_sizes(tmp_path):
    out = tmp_path / "odd.mp4"
    writer = AnnotatedWriter(out, 12.5)
    for i in range(5):
        writer.write(np.full((241, 321, 3), 20 * i, np.uint8))
    writer.close()
    writer.close()  # twice is harmless
    assert count_frames(out) == (5, 320, 240)


class _Interrupt(BaseException):
    """Like Streamlit's RerunException: not an Exception, raised from inside a callback."""


def test_interrupted_call_leaves_partial_result_with_the_caller(clips, tmp_path, monkeypatch):
    from fer.jobs.video import VideoResult

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    def progress(done, total, elapsed):
        if done >= 10:
            raise _Interrupt()

    holder = VideoResult()
    with pytest.raises(_Interrupt):
        analyze_video_bytes(
            clips["face"].read_bytes(),
            StubAnalyzer(),
            name="clip.mp4",
            progress=progress,
            result=holder,
        )
    assert holder.frames_read == 11 and len(holder.rows) == 6 and holder.name == "clip.mp4"
    assert holder.annotated  # the annotated part was finished and kept
    back = tmp_path / "back.mp4"
    back.write_bytes(holder.annotated)
    assert count_frames(back)[0] == 11
    assert os.listdir(scratch) == []
