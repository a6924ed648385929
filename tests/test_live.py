"""The live webcam frame callback (fer.jobs.live), driven directly with numpy and av frames
(untrained weights: plumbing only)."""

from fractions import Fraction

import numpy as np
import pytest

from fer.config import AnalysisConfig
from fer.emotions import COLORS_RGB, EMOTIONS
from fer.jobs.live import LiveHistory, LiveProcessor, LiveSample, ice_servers_from_env
from tests.shared_data import copy_model


@pytest.fixture
def live_env(models_env, face_detector):
    """Untrained models; detector "auto" finds YuNet where its file is, else Haar."""
    return models_env


@pytest.fixture
def frame_bgr(astronaut):
    return np.ascontiguousarray(astronaut[:, :, ::-1])


def _bgr(emotion: str) -> tuple[int, int, int]:
    """The emotion's colour in the BGR order of the frames."""
    return tuple(reversed(COLORS_RGB[emotion]))


def _color_pixels(image_bgr, color):
    return int(np.all(image_bgr == np.array(color, np.uint8), axis=2).sum())


def _processor(both_models=False, **config):
    return LiveProcessor(
        AnalysisConfig(**{"detector": "auto", **config}),
        both_models=both_models,
        draw_overlay=False,
    )


def test_frame_is_annotated_and_queue_fed(live_env, frame_bgr):
    processor = _processor()
    out = processor.process_bgr(frame_bgr.copy())
    assert out.shape == frame_bgr.shape and out.dtype == np.uint8
    assert len(processor.last_tracks) == 1
    color = _bgr(processor.last_tracks[0].label)
    assert _color_pixels(out, color) > _color_pixels(frame_bgr, color) + 100  # the box and tag

    samples = processor.drain()
    assert len(samples) == 1
    sample = samples[0]
    assert not sample.is_error and sample.faces == 1 and sample.model == "shallow"
    assert sample.probabilities.shape == (len(EMOTIONS),)
    assert abs(float(sample.probabilities.sum()) - 1) < 1e-4
    assert sample.label in EMOTIONS
    assert sample.fps > 0 and sample.latency_ms > 0
    for _ in range(2):
        processor.process_bgr(frame_bgr)
    assert processor.fps > 0 and processor.latency_ms > 0 and processor.frames == 3
    more = processor.drain()
    assert len(more) == 2 and sample.time < more[0].time < more[1].time
    assert all(s.fps > 0 and s.latency_ms > 0 for s in more)


def test_overlay_draws_fps(live_env, frame_bgr):
    plain = _processor()
    with_overlay = LiveProcessor(AnalysisConfig(detector="auto"))
    a = plain.process_bgr(frame_bgr)
    b = with_overlay.process_bgr(frame_bgr)
    corner = (slice(0, 30), slice(0, 100))
    assert not np.array_equal(a[corner], b[corner])  # darkened box + text top-left


def test_av_frame_round_trip(live_env, frame_bgr):
    av = pytest.importorskip("av")
    frame = av.VideoFrame.from_ndarray(frame_bgr, format="bgr24")
    frame.pts = 1234
    frame.time_base = Fraction(1, 90000)
    processor = _processor()
    out = processor(frame)
    assert isinstance(out, av.VideoFrame)
    assert out.pts == 1234 and out.time_base == Fraction(1, 90000)
    assert (out.width, out.height) == (frame.width, frame.height)
    image = out.to_ndarray(format="bgr24")
    assert not np.array_equal(image, frame_bgr)
    assert processor.drain()[0].faces == 1


def test_settings_change_mid_stream_switches_model(live_env, frame_bgr):
    processor = _processor()
    processor.process_bgr(frame_bgr)
    assert processor.current.model_name == "shallow"
    first = processor.current
    config = processor.request.config
    processor.configure(config.with_(model="deep"))  # as the sidebar does while streaming
    processor.process_bgr(frame_bgr)
    assert processor.current.model_name == "deep"
    assert processor.drain()[-1].model == "deep"
    processor.configure(config.with_(tta=True, min_face=60))
    processor.process_bgr(frame_bgr)
    assert processor.current.model_name == "shallow" and processor.current.tta == "flip"
    assert processor.current.min_face == 60
    processor.configure(config)
    processor.process_bgr(frame_bgr)
    assert processor.current is first  # one analyzer per configuration, shared by the process


def test_a_rerun_with_the_same_settings_keeps_the_tracks(live_env, frame_bgr):
    processor = _processor()
    processor.process_bgr(frame_bgr)
    tracker = processor._tracker
    processor.configure(AnalysisConfig(detector="auto"))  # the page's next rerun, nothing changed
    processor.process_bgr(frame_bgr)
    assert processor._tracker is tracker and processor.last_tracks[0].hits == 2


def _tag_rows(image_bgr, color, box):
    """Rows above the box top holding the tag colour across the box's columns."""
    x, y, w, _ = box
    region = image_bgr[:y, x : x + w]
    mask = np.all(region == np.array(color, np.uint8), axis=2)
    return int((mask.sum(axis=1) >= 5).sum())


def test_both_models_draws_two_label_lines(live_env, frame_bgr):
    single = _processor()
    out_single = single.process_bgr(frame_bgr)
    both = _processor(both_models=True)
    out_both = both.process_bgr(frame_bgr)
    assert both.other is not None and both.other.model_name == "deep"
    assert both.last_extra_lines is not None and len(both.last_extra_lines) == 1
    assert both.last_extra_lines[0][0].startswith("deep: ")
    track = both.last_tracks[0]
    color = _bgr(track.label)
    assert track.box[1] > 40  # room for both tags above her head
    rows_single = _tag_rows(out_single, _bgr(single.last_tracks[0].label), track.box)
    rows_both = _tag_rows(out_both, color, track.box)
    assert rows_single > 5 and rows_both > 1.6 * rows_single


def test_both_models_picks_the_other_installed_model(live_env, frame_bgr):
    processor = _processor(both_models=True, model="deep")
    processor.process_bgr(frame_bgr)
    assert processor.other.model_name == "shallow"


def test_both_models_with_one_model_installed(live_env, frame_bgr, tmp_path, monkeypatch):
    copy_model(live_env, "shallow", tmp_path)
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    processor = _processor(both_models=True)
    out = processor.process_bgr(frame_bgr)
    assert not np.array_equal(out, frame_bgr) and processor.other is None
    (sample,) = processor.drain()
    assert sample.faces == 1 and "no second model" in sample.notice


def test_error_in_analysis_returns_raw_frame_and_is_reported(frame_bgr):
    class Broken:
        model_name = "broken"

        def analyze_frame(self, frame):
            raise RuntimeError("boom")

    processor = LiveProcessor(analyzer_factory=lambda config: Broken())
    out = processor.process_bgr(frame_bgr)
    assert out is frame_bgr
    samples = processor.drain()
    assert len(samples) == 1 and samples[0].is_error and "boom" in samples[0].error
    # repeated identical errors are rate-limited, the stream keeps going
    for _ in range(5):
        assert processor.process_bgr(frame_bgr) is frame_bgr
    assert len(processor.drain()) == 0 and processor.errors == 6

    av = pytest.importorskip("av")
    frame = av.VideoFrame.from_ndarray(frame_bgr, format="bgr24")
    assert processor(frame) is frame


def test_missing_model_reported_not_raised(tmp_path, monkeypatch, frame_bgr):
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    processor = LiveProcessor(AnalysisConfig(detector="haar"))
    assert processor.process_bgr(frame_bgr) is frame_bgr
    (sample,) = processor.drain()
    assert "train" in sample.error and "Error" not in sample.error  # the user-facing message


def test_queue_drops_oldest_when_full(live_env, frame_bgr):
    processor = LiveProcessor(AnalysisConfig(detector="auto"), queue_size=2, draw_overlay=False)
    for _ in range(4):
        processor.process_bgr(frame_bgr)
    samples = processor.drain()
    assert len(samples) == 2 and processor.frames == 4
    assert samples[0].time < samples[1].time
    assert processor.queue.empty()


def test_no_face_frame(live_env):
    processor = _processor()
    blank = np.full((240, 320, 3), 90, np.uint8)
    out = processor.process_bgr(blank)
    assert np.array_equal(out, blank)
    (sample,) = processor.drain()
    assert sample.faces == 0 and sample.probabilities is None and not sample.is_error


def test_ice_servers_from_env(monkeypatch):
    monkeypatch.delenv("FER_ICE_SERVERS", raising=False)
    assert ice_servers_from_env() == ([], None)
    monkeypatch.setenv("FER_ICE_SERVERS", '[{"urls": ["stun:stun.example.org:3478"]}]')
    assert ice_servers_from_env() == ([{"urls": ["stun:stun.example.org:3478"]}], None)
    monkeypatch.setenv("FER_ICE_SERVERS", "not json")
    servers, warning = ice_servers_from_env()
    assert servers == [] and "FER_ICE_SERVERS" in warning


def test_model_loading_is_not_frame_latency(frame_bgr):
    import time

    class Quick:
        model_name = "quick"
        notice = None

        def analyze_frame(self, frame):
            return []

    def slow_factory(config):
        time.sleep(0.3)  # loading a model
        return Quick()

    processor = LiveProcessor(analyzer_factory=slow_factory, draw_overlay=False)
    processor.process_bgr(frame_bgr)
    assert 0 < processor.latency_ms < 150


def test_fps_and_latency_averages_forget_a_slow_first_frame(frame_bgr):
    import time

    delays = iter([0.25] + [0.01] * 30)

    class Fake:
        model_name = "fake"
        notice = None

        def analyze_frame(self, frame):
            time.sleep(next(delays))
            return []

    processor = LiveProcessor(analyzer_factory=lambda config: Fake(), draw_overlay=False)
    processor.process_bgr(frame_bgr)
    assert processor.latency_ms > 200 and processor.fps > 0
    for _ in range(30):
        processor.process_bgr(frame_bgr)
    assert processor.latency_ms < 60  # a 10-frame-ish moving average by now
    assert processor.fps > 15  # frames came back to back, ~10 ms apart


def test_live_analyzers_search_faces_at_reduced_resolution(models_env):
    from fer.jobs.live import LIVE_DETECT_MAX_SIDE, LiveProcessor

    processor = LiveProcessor(AnalysisConfig(detector="haar"))
    processor.process_bgr(np.zeros((120, 160, 3), np.uint8))
    assert processor.current.detect_max_side == LIVE_DETECT_MAX_SIDE


def test_streaming_follows_the_frames(models_env, astronaut):
    from fer.jobs.live import LiveProcessor

    processor = LiveProcessor()
    processor.configure(AnalysisConfig(model="shallow", detector="haar"))
    assert not processor.streaming()
    processor.process_bgr(np.ascontiguousarray(astronaut[:, :, ::-1]))
    assert processor.streaming()
    assert not processor.streaming(within_s=-1)


def test_live_history_keeps_a_window_and_reports_each_error_once():
    def sample(t, main=None, error=None):
        probs = (
            None if main is None else np.eye(len(EMOTIONS), dtype=np.float32)[EMOTIONS.index(main)]
        )
        return LiveSample(
            time=t,
            probabilities=probs,
            label=main,
            faces=int(main is not None),
            fps=10.0,
            latency_ms=5.0,
            model="shallow",
            error=error,
        )

    history = LiveHistory(window_s=10.0)
    errors = history.add(
        [
            sample(0.0, "happy"),
            sample(1.0, error="camera busy"),
            sample(2.0, error="camera busy"),
            sample(5.0),
        ]
    )
    assert errors == ["camera busy"] and [s.time for s in history.samples] == [0.0, 5.0]
    assert history.last.time == 5.0
    long = history.timeline()  # seconds before the newest sample; the faceless frame has no line
    assert sorted(set(long["time"])) == [-5.0] and len(long) == len(EMOTIONS)
    assert history.add([sample(12.0, "sad")]) == []
    assert [s.time for s in history.samples] == [5.0, 12.0]  # 0.0 left the 10 s window
    assert history.table().labels == ["sad"]
    assert LiveHistory().timeline().empty
