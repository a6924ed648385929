"""Many photos at once: uploads, files and ``.zip`` archives in, one result per photo out.

:func:`analyze_batch` takes ``(name, source)`` pairs, where a source is bytes, a path or a
binary file object; a ``.zip`` is opened and its images analysed one by one (folders, hidden
files, ``__MACOSX`` sidecars and non-images skipped), never extracted to disk. An archive with
more than :data:`MAX_ZIP_FILES` images or more than :data:`MAX_ZIP_BYTES` of uncompressed
data is refused with a message (a zip bomb must not exhaust memory); the limit is enforced on
the bytes actually decompressed, not on the sizes the archive claims.

A photo that cannot be read gets its own result with an ``error`` and the rest go on. Results are
``{"image", "faces": [FaceResult.to_dict()...], "error"?}`` as
:meth:`fer.output.results.Results.from_images` takes them, plus ``thumbnail``: a small annotated
JPEG (bytes) for a gallery.
"""

from __future__ import annotations

import io
import os
import time
import zipfile
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from ..errors import FerError
from ..output.progress import ProgressFn
from ..vision.image_io import IMAGE_EXTENSIONS
from .photo import PhotoResult, analyze_photo

MAX_ZIP_FILES = 1000
"""Most images taken from one archive."""

MAX_ZIP_BYTES = 512 * 1024 * 1024
"""Most uncompressed bytes read from one archive (all its images together)."""

THUMBNAIL_SIDE = 256


class _Entry:
    """One photo to analyse: a name and a way to get its bytes (or the error instead)."""

    def __init__(
        self,
        name: str,
        read: Callable[[], Any] | None = None,
        error: str | None = None,
        archive: zipfile.ZipFile | None = None,
    ):
        self.name, self.read, self.error, self.archive = name, read, error, archive


def _is_zip(name: str) -> bool:
    return str(name).lower().endswith(".zip")


def _source_bytes_or_path(source: Any) -> Any:
    """A path stays a path; a file object is read to bytes (from its start)."""
    if isinstance(source, (bytes, bytearray, memoryview, str, os.PathLike)):
        return source
    if hasattr(source, "getvalue"):
        return source.getvalue()
    if hasattr(source, "read"):
        if getattr(source, "seekable", lambda: False)():
            source.seek(0)
        return source.read()
    return source


def _wanted(member: zipfile.ZipInfo) -> bool:
    if member.is_dir():
        return False
    parts = PurePosixPath(member.filename.replace("\\", "/")).parts
    if any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return False
    return PurePosixPath(member.filename).suffix.lower() in IMAGE_EXTENSIONS


def _zip_entries(name: str, source: Any, max_files: int, max_bytes: int) -> list[_Entry]:
    """The archive's images as entries read lazily under a shared byte budget, or one entry
    holding the error that refuses the whole archive."""
    data = _source_bytes_or_path(source)
    try:
        archive = zipfile.ZipFile(
            io.BytesIO(bytes(data)) if not isinstance(data, (str, os.PathLike)) else data
        )
        members = [m for m in archive.infolist() if _wanted(m)]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        return [_Entry(name, error=f"{name} is not a readable zip archive ({exc})")]
    refusal = _archive_refusal(name, members, max_files, max_bytes)
    if refusal:
        archive.close()
        return [_Entry(name, error=refusal)]
    budget = _ByteBudget(archive, name, max_bytes)
    return [
        _Entry(f"{name}/{m.filename}", budget.reader(m, f"{name}/{m.filename}"), archive=archive)
        for m in members
    ]


def _archive_refusal(name: str, members: list, max_files: int, max_bytes: int) -> str | None:
    """Why a whole archive is refused (no images, too many, too large unpacked), or None."""
    if not members:
        return f"{name} holds no images ({', '.join(IMAGE_EXTENSIONS)})"
    if len(members) > max_files:
        return (
            f"{name} holds {len(members)} images; at most {max_files} are analysed from one "
            "archive, split it into smaller ones"
        )
    claimed = sum(m.file_size for m in members)
    if claimed > max_bytes:
        return (
            f"{name} unpacks to {claimed / 2**20:.0f} MB; at most {max_bytes / 2**20:.0f} MB "
            "are accepted from one archive"
        )
    return None


class _ByteBudget:
    """Readers of one archive's members that share a budget of unpacked bytes: the sizes in an
    archive can lie, so nothing is decompressed past the budget."""

    _UNPACK_ERRORS = (
        zipfile.BadZipFile,
        OSError,
        EOFError,
        ValueError,
        NotImplementedError,
        RuntimeError,
    )

    def __init__(self, archive: zipfile.ZipFile, name: str, max_bytes: int):
        self.archive, self.name, self.max_bytes = archive, name, max_bytes
        self.left, self.refused = max_bytes, False

    def reader(self, member: zipfile.ZipInfo, member_name: str) -> Callable[[], bytes]:
        return lambda: self.read(member, member_name)

    def read(self, member: zipfile.ZipInfo, member_name: str) -> bytes:
        limit = f"{self.max_bytes / 2**20:.0f} MB"
        if self.refused:
            raise FerError(f"skipped: {self.name} unpacks to more than {limit}")
        if member.flag_bits & 0x1:
            raise FerError(f"{member_name} is encrypted")
        try:
            with self.archive.open(member) as fh:
                chunk = fh.read(self.left + 1)
        except self._UNPACK_ERRORS as exc:
            raise FerError(f"{member_name} cannot be unpacked ({exc})") from None
        if len(chunk) > self.left:
            self.refused = True
            raise FerError(
                f"{self.name} unpacks to more than {limit} (a zip bomb?); the rest of it is skipped"
            )
        self.left -= len(chunk)
        return chunk


def items_digest(items: list[tuple[str, bytes]]) -> str:
    """A sha1 of the uploads' names and contents, in order: the same files give the same
    digest (a cache key for their results)."""
    import hashlib

    digest = hashlib.sha1()
    for name, data in items:
        digest.update(str(name).encode() + b"\0" + hashlib.sha1(data).digest())
    return digest.hexdigest()


def expand_items(
    items: list[tuple[str, Any]], max_files: int = MAX_ZIP_FILES, max_bytes: int = MAX_ZIP_BYTES
) -> list[_Entry]:
    """``(name, source)`` pairs -> photos to analyse, archives opened (lazily read)."""
    entries: list[_Entry] = []
    for name, source in items:
        name = str(name)
        if _is_zip(name):
            entries.extend(_zip_entries(name, source, max_files, max_bytes))
        else:
            entries.append(_Entry(name, lambda s=source: _source_bytes_or_path(s)))
    return entries


def thumbnail(image_rgb: np.ndarray, faces: list, side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """The photo shrunk to at most ``side`` pixels, with its (rescaled) faces drawn on it."""
    from ..output.drawing import annotate
    from ..vision.image_io import shrink_to_side

    small, scale = shrink_to_side(image_rgb, side)

    class _Scaled:
        def __init__(self, face):
            self.box = tuple(int(round(v * scale)) for v in face.box)
            self.label, self.confidence = face.label, face.confidence

    return annotate(small, [_Scaled(f) for f in faces])


def _jpeg(image_rgb: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image_rgb)).save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def analyze_batch(
    items: list[tuple[str, Any]],
    analyzer,
    progress: ProgressFn | None = None,
    thumbnails: bool = True,
    max_files: int = MAX_ZIP_FILES,
    max_bytes: int = MAX_ZIP_BYTES,
    results: list | None = None,
) -> list[dict]:
    """Analyse photos (``(name, bytes | path | file)`` pairs; ``.zip`` archives expanded) with
    ``analyzer`` (:class:`fer.serving.analyzer.Analyzer`). One result per photo, in order:
    ``{"image": name, "faces": [face dicts], "thumbnail": JPEG bytes}``, or with ``"error"``
    (and no thumbnail) when the photo could not be read. ``progress(done, total, elapsed)`` is
    called after each photo (``elapsed`` in seconds). ``results``: a list to append to (and return), so that a caller
    keeps the results so far when the call is interrupted by an exception."""
    entries = expand_items(items, max_files, max_bytes)
    try:
        return _analyze_entries(
            entries, analyzer, progress, thumbnails, [] if results is None else results
        )
    finally:
        for archive in {id(e.archive): e.archive for e in entries if e.archive}.values():
            archive.close()


def _analyze_entries(
    entries: list[_Entry], analyzer, progress: ProgressFn | None, thumbnails: bool, results: list
) -> list[dict]:
    started = time.perf_counter()
    for done, entry in enumerate(entries, start=1):
        photo = _analyze_entry(analyzer, entry)
        result = photo.to_dict()
        if thumbnails and photo.error is None:
            result["thumbnail"] = _jpeg(thumbnail(photo.image, photo.faces))
        results.append(result)
        if progress is not None:
            progress(done, len(entries), time.perf_counter() - started)
    return results


def _analyze_entry(analyzer, entry: _Entry) -> PhotoResult:
    """The entry's photo analysed, or its error (an archive refused, a member unpacked)."""
    if entry.error:
        return PhotoResult(entry.name, error=entry.error)
    try:
        source = entry.read()
    except FerError as exc:
        return PhotoResult(entry.name, error=str(exc))
    return analyze_photo(analyzer, source, name=entry.name)


def batch_summary(results: list[dict]) -> dict[str, int]:
    """Counts for a headline: photos, photos with an error, photos without a face, faces."""
    return {
        "photos": len(results),
        "errors": sum(1 for r in results if r.get("error")),
        "no_face": sum(1 for r in results if not r.get("error") and not r.get("faces")),
        "faces": sum(len(r.get("faces") or []) for r in results),
    }


def thumbnail_caption(result: dict) -> str:
    """``photo.jpg: Happy, Sad`` (the file name without its folders, the faces' labels)."""
    from ..emotions import DISPLAY_NAMES

    labels = ", ".join(DISPLAY_NAMES[f["label"]] for f in result.get("faces") or []) or "no face"
    return f"{result['image'].rsplit('/', 1)[-1]}: {labels}"


def results_for_json(results: list[dict]) -> list[dict]:
    """The results without their thumbnails (for JSON downloads)."""
    return [{k: v for k, v in r.items() if k != "thumbnail"} for r in results]


def results_to_json(results: list[dict], indent: int | None = 1) -> str:
    """The results, nested as :func:`analyze_batch` gives them, without thumbnails, as JSON
    (the flat table: :meth:`fer.output.results.Results.from_images`)."""
    from ..output.results import rows_to_json

    return rows_to_json(results_for_json(results), indent=indent)
