import numpy as np
import pytest

from fer.jobs.tracking import FaceTracker, iou


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)


def test_ids_are_stable_and_new_faces_get_new_ids():
    tracker = FaceTracker(smoothing=0.0)
    p = np.eye(7)[[3, 4]]
    a = tracker.update([(0, 0, 50, 50), (200, 0, 50, 50)], p)
    b = tracker.update([(205, 2, 50, 50), (3, 1, 50, 50)], p[::-1])  # order swapped, moved
    assert [t.track_id for t in a] == [1, 2]
    assert [t.track_id for t in b] == [2, 1]
    c = tracker.update([(400, 400, 40, 40)], p[:1])
    assert c[0].track_id == 3


def test_smoothing_stops_flicker_and_follows_a_real_change():
    tracker = FaceTracker(smoothing=0.7)
    happy, sad = np.eye(7)[3], np.eye(7)[4]
    labels = []
    for i in range(12):
        probs = sad if i == 5 else (happy if i < 8 else sad)  # one-frame blip, then a real change
        labels.append(tracker.update([(10, 10, 50, 50)], probs[None])[0].label)
    assert labels[5] == "happy"  # the blip is smoothed away
    assert labels[-1] == "sad"  # the lasting change comes through
    raw = FaceTracker(smoothing=0.0)
    assert raw.update([(0, 0, 5, 5)], sad[None])[0].label == "sad"


def test_tracks_survive_short_gaps_then_drop():
    tracker = FaceTracker(max_missed=2)
    tracker.update([(0, 0, 50, 50)], np.eye(7)[[3]])
    tracker.update([], np.zeros((0, 7)))
    assert tracker.update([(2, 2, 50, 50)], np.eye(7)[[3]])[0].track_id == 1
    for _ in range(3):
        tracker.update([], np.zeros((0, 7)))
    assert tracker.tracks == []
    assert tracker.update([(2, 2, 50, 50)], np.eye(7)[[3]])[0].track_id == 2
