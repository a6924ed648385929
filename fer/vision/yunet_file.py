"""Finding the YuNet face model file: ``$FER_YUNET_MODEL``, the user cache, or a download.

A download is tried at most once a day: a failure is remembered in a stamp file beside the cached
model (and in memory, for caches that cannot be written), so an offline machine pays for one
attempt, and says so in one line, instead of on every run. :func:`forget_download_failure` (the
CLI's ``--retry-download``, the sidebar's button) allows the next attempt at once.

Stalls are bounded: the name lookup, the connection and the response headers must come within
``CONNECT_TIMEOUT_S`` together (a network that drops packets costs that much, once a day), and
each read after that within the same time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from fer.errors import FerError
from fer.settings import cache_dir

log = logging.getLogger(__name__)

YUNET_FILENAME = "face_detection_yunet_2023mar.onnx"
YUNET_URL = (
    "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
    "face_detection_yunet_2023mar.onnx"
)
YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
#: Seconds for the name lookup, the connection and the response headers together, and for any
#: one read of the body after them (the model is ~230 KB).
CONNECT_TIMEOUT_S = 4.0
#: After a failed download, no new attempt for this long unless asked.
RETRY_AFTER_S = 24 * 3600.0
_MAX_DOWNLOAD_BYTES = 10 * 1024 * 1024  # refuse anything absurd
_FAILED_SUFFIX = ".download-failed"

_failures: dict[str, tuple[float, str]] = {}  # attempts of this process, by cache path
_failures_lock = threading.Lock()
_download_lock = threading.Lock()  # one attempt at a time (app sessions share the process)
_told: set[str] = set()  # cache paths whose failure this process has reported


def yunet_cache_path() -> Path:
    """Where the downloaded (or hand-copied) model lives: ``cache_dir()/models/<file>``."""
    return cache_dir() / "models" / YUNET_FILENAME


def _stamp(target: Path) -> Path:
    return target.with_name(target.name + _FAILED_SUFFIX)


def downloads_disabled() -> bool:
    """Whether ``$FER_NO_DOWNLOAD`` turns downloads off."""
    return os.environ.get("FER_NO_DOWNLOAD", "").strip().lower() in {"1", "true", "yes", "on"}


def last_download_failure() -> tuple[float, str] | None:
    """``(time, reason)`` of a failed download less than ``RETRY_AFTER_S`` ago, else None."""
    target = yunet_cache_path()
    with _failures_lock:
        remembered = _failures.get(str(target))
    if remembered is None:
        try:
            stamp = _stamp(target)
            remembered = (stamp.stat().st_mtime, stamp.read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError):
            return None
    if not 0 <= time.time() - remembered[0] < RETRY_AFTER_S:
        return None
    return remembered


def forget_download_failure() -> None:
    """Allow the next :func:`yunet_model_path` to try the download again at once."""
    target = yunet_cache_path()
    with _failures_lock:
        _failures.pop(str(target), None)
        _told.discard(str(target))
    try:
        _stamp(target).unlink()
    except OSError:
        pass


def _remember_failure(target: Path, reason: str) -> None:
    with _failures_lock:
        _failures[str(target)] = (time.time(), reason)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _stamp(target).write_text(reason + "\n", encoding="utf-8")
    except OSError:  # a read-only cache: remembered for this process only
        pass


def missing_notice(reason: str | None = None) -> str:
    """One line for people: YuNet is missing (and why), Haar is used, and what to do."""
    why = f" ({reason})" if reason else ""
    return (
        f"YuNet model not available{why}; using the built-in Haar detector. To use YuNet, set "
        f"FER_YUNET_MODEL to the path of {YUNET_FILENAME} or copy that file into "
        f"{yunet_cache_path().parent}."
    )


def failure_notice(failure: tuple[float, str], how: str = "--retry-download") -> str:
    """:func:`missing_notice` for a failed download, with when it is tried next unless asked
    (``how``: the way to ask)."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(failure[0] + RETRY_AFTER_S))
    return (
        missing_notice(f"download failed: {failure[1]}")
        + f" No new download attempt before {when} unless asked ({how})."
    )


def current_notice(how: str = "--retry-download") -> str:
    """The one-line notice for YuNet missing right now: a wrong ``$FER_YUNET_MODEL``, downloads
    off, or a failed download (and when it is tried next unless asked: ``how``)."""
    env = os.environ.get("FER_YUNET_MODEL")
    if env and not Path(env).expanduser().is_file():
        return missing_notice(f"FER_YUNET_MODEL is set to {env}, which does not exist")
    if downloads_disabled():
        return missing_notice("downloads are off")
    failure = last_download_failure()
    return failure_notice(failure, how) if failure else missing_notice()


def download_failure_notice(explicit: bool) -> str | None:
    """The one-line notice for a failed download, once per process, or None.

    Given when this process's own attempt failed, or, for a remembered failure, only when YuNet
    was asked for by name (``explicit``): runs within the day after a failure stay quiet.
    """
    failure = last_download_failure()
    target = str(yunet_cache_path())
    with _failures_lock:
        if failure is None or target in _told or not (explicit or target in _failures):
            return None
        _told.add(target)
    return failure_notice(failure)


def _fetch(target: Path, connected: threading.Event, abandoned: threading.Event) -> None:
    """Download into ``target`` (atomic, sha256-checked); raises on any failure."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    tmp_name: str | None = None
    try:
        with urllib.request.urlopen(YUNET_URL, timeout=CONNECT_TIMEOUT_S) as response:
            connected.set()
            if abandoned.is_set():
                return
            with tempfile.NamedTemporaryFile(
                dir=target.parent, prefix=target.name + ".", suffix=".part", delete=False
            ) as tmp:
                tmp_name = tmp.name
                while chunk := response.read(1 << 16):
                    size += len(chunk)
                    if size > _MAX_DOWNLOAD_BYTES:
                        raise ValueError(f"download larger than {_MAX_DOWNLOAD_BYTES} bytes")
                    digest.update(chunk)
                    tmp.write(chunk)
        if digest.hexdigest() != YUNET_SHA256:
            raise ValueError("the downloaded file failed its sha256 check")
        os.replace(tmp_name, target)
        tmp_name = None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass


def _download_yunet(target: Path) -> Path | None:
    """One download attempt into ``target``; None (and the failure remembered) if it fails."""
    connected, abandoned = threading.Event(), threading.Event()
    outcome: dict[str, BaseException] = {}

    def work() -> None:
        try:
            _fetch(target, connected, abandoned)
        except BaseException as err:  # network, disk, checksum: the caller falls back to Haar
            outcome["error"] = err
        finally:
            connected.set()

    # a thread, because the name lookup has no timeout of its own
    thread = threading.Thread(target=work, name="yunet-download", daemon=True)
    thread.start()
    if not connected.wait(CONNECT_TIMEOUT_S):
        abandoned.set()
        reason = f"no answer within {CONNECT_TIMEOUT_S:g} s"
    else:
        thread.join()
        error = outcome.get("error")
        if error is None:
            forget_download_failure()
            log.info("Downloaded the YuNet face model to %s", target)
            return target
        reason = str(error).strip() or type(error).__name__
    log.info("Could not download the YuNet face model from %s: %s", YUNET_URL, reason)
    _remember_failure(target, reason)
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def yunet_model_path(download: bool = True) -> Path | None:
    """Where the YuNet model is, or None.

    1. ``$FER_YUNET_MODEL`` if set (a missing file there raises :class:`FerError`; not checksummed,
       so other YuNet variants can be used);
    2. :func:`yunet_cache_path` if its sha256 is ``YUNET_SHA256``;
    3. if ``download``, ``$FER_NO_DOWNLOAD`` is not set and no download failed in the last
       ``RETRY_AFTER_S``: download ``YUNET_URL`` there (bounded waits, checksum verified,
       atomic). Network failures return None, never raise.
    """
    env = os.environ.get("FER_YUNET_MODEL")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise FerError(f"FER_YUNET_MODEL is set to {path}, but that file does not exist.")
        return path
    cached = yunet_cache_path()
    try:
        if cached.is_file() and _sha256(cached) == YUNET_SHA256:
            return cached
    except OSError:
        pass
    if cached.is_file():
        log.warning("Ignoring %s: its sha256 does not match the published YuNet model.", cached)
    if not download or downloads_disabled():
        return None
    with _download_lock:
        if last_download_failure() is not None:
            return None
        if cached.is_file() and _sha256(cached) == YUNET_SHA256:  # another thread fetched it
            return cached
        return _download_yunet(cached)
