"""The YuNet download on an offline machine: one attempt, remembered for a day, a one-line notice
once per process, and a bounded wait on a network that drops packets. The network is mocked at
the socket level (``socket.create_connection``, which urllib's HTTPS connection calls)."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from fer.cli import analysis_config, build_parser
from fer.vision import yunet_file
from fer.vision.detection import HaarDetector, YuNetDetector, create_detector, retry_yunet_download
from fer.vision.yunet_file import (
    RETRY_AFTER_S,
    YUNET_FILENAME,
    forget_download_failure,
    last_download_failure,
    yunet_cache_path,
    yunet_model_path,
)


@pytest.fixture(autouse=True)
def _online_allowed(monkeypatch, tmp_path):
    """Downloads on, an empty cache, and a fresh process memory of attempts and notices."""
    monkeypatch.delenv("FER_NO_DOWNLOAD", raising=False)
    monkeypatch.delenv("FER_YUNET_MODEL", raising=False)
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(yunet_file, "_failures", {})
    monkeypatch.setattr(yunet_file, "_told", set())


@pytest.fixture
def refused(monkeypatch) -> list:
    """Every connection is refused at once; the list records each attempt's (address, timeout)."""
    calls: list = []

    def create_connection(address, timeout=None, *args, **kwargs):
        calls.append((address, timeout))
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return calls


def _new_process(monkeypatch) -> None:
    """What a new CLI run starts with: the stamp file on disk, nothing in memory."""
    monkeypatch.setattr(yunet_file, "_failures", {})
    monkeypatch.setattr(yunet_file, "_told", set())


def test_a_failed_download_is_not_retried_within_the_day(monkeypatch, refused):
    assert yunet_model_path() is None
    assert len(refused) == 1
    assert refused[0][0][0] == "github.com"
    assert yunet_model_path() is None  # same process
    _new_process(monkeypatch)
    assert yunet_model_path() is None  # a later run: the stamp file remembers
    assert len(refused) == 1
    when, reason = last_download_failure()
    assert "refused" in reason.lower()
    assert abs(when - time.time()) < RETRY_AFTER_S


def test_the_download_is_tried_again_after_a_day(monkeypatch, refused):
    assert yunet_model_path() is None
    stamp = yunet_cache_path().with_name(YUNET_FILENAME + ".download-failed")
    assert stamp.is_file()
    old = time.time() - RETRY_AFTER_S - 60
    os.utime(stamp, (old, old))
    _new_process(monkeypatch)
    assert last_download_failure() is None
    assert yunet_model_path() is None
    assert len(refused) == 2


def test_asking_allows_the_next_attempt_at_once(monkeypatch, refused):
    assert yunet_model_path() is None
    forget_download_failure()
    assert last_download_failure() is None
    assert yunet_model_path() is None
    assert len(refused) == 2
    notice = retry_yunet_download()
    assert len(refused) == 3
    assert notice is not None and "\n" not in notice and "download failed" in notice


def test_the_cli_flag_forgets_the_failure(refused):
    assert yunet_model_path() is None
    for command in (["predict", "a.jpg"], ["video", "a.mp4"]):
        args = build_parser().parse_args(command)
        analysis_config(args)
        assert last_download_failure() is not None  # without the flag it stays
        args = build_parser().parse_args([*command, "--retry-download"])
        analysis_config(args)
        assert last_download_failure() is None
        assert yunet_model_path() is None  # and the next lookup tries again
    assert len(refused) == 3


def test_connections_have_a_short_timeout(refused):
    yunet_model_path()
    (_address, timeout), *_ = refused
    assert timeout is not None and 0 < timeout <= 5


def test_a_blackholed_network_is_given_up(monkeypatch, tmp_path):
    """A connection that never answers (a firewall dropping packets): the lookup returns while
    the connection attempt is still hanging, and remembers the failure."""
    release = threading.Event()
    started = threading.Event()

    def hang(address, timeout=None, *args, **kwargs):
        started.set()
        release.wait(30)
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    monkeypatch.setattr(yunet_file, "CONNECT_TIMEOUT_S", 0.2)
    try:
        assert yunet_model_path() is None
        assert started.is_set() and not release.is_set()  # given up, not waited out
        assert "no answer" in last_download_failure()[1]
    finally:
        release.set()
    assert not list(tmp_path.glob("cache/models/*.part"))


def test_the_notice_is_one_line_once_per_process(monkeypatch, refused):
    detector, notice = create_detector("auto")
    assert isinstance(detector, HaarDetector)
    assert notice is not None and "\n" not in notice
    assert "FER_YUNET_MODEL" in notice and str(yunet_cache_path().parent) in notice
    assert "download failed" in notice and "--retry-download" in notice
    assert create_detector("auto")[1] is None  # said once
    assert create_detector("yunet")[1] is None
    _new_process(monkeypatch)
    assert create_detector("auto")[1] is None  # a later run within the day: quiet
    assert "FER_YUNET_MODEL" in create_detector("yunet")[1]  # unless YuNet is asked for
    assert len(refused) == 1


def test_a_file_copied_into_the_cache_wins_over_the_remembered_failure(
    monkeypatch, refused, yunet_model
):
    assert yunet_model_path() is None
    target = yunet_cache_path()
    target.write_bytes(yunet_model.read_bytes())
    assert yunet_model_path() == target
    assert isinstance(create_detector("auto")[0], YuNetDetector)
    assert len(refused) == 1


def test_the_sidebar_tries_once_and_offers_a_retry(refused):
    from streamlit.testing.v1 import AppTest

    def app() -> None:
        from pages._common import sidebar

        sidebar()

    at = AppTest.from_function(app).run(timeout=60)
    assert len(refused) == 1  # the first page view tried the download
    captions = [c.value for c in at.sidebar.caption if "YuNet" in c.value]
    assert len(captions) == 1 and "download failed" in captions[0]
    assert "the button below" in captions[0]
    assert at.sidebar.selectbox(key="fer_detector").value == "haar"
    at.run(timeout=60)
    assert len(refused) == 1  # later reruns do not
    (button,) = [b for b in at.sidebar.button if "download" in b.label]
    button.click().run(timeout=60)
    assert len(refused) == 2
