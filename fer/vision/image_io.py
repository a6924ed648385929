"""Reading user images safely: any common file, upload, PIL image or array -> RGB uint8 (H, W, 3).

Everything a person can hand the app goes through :func:`load_image`, which

* applies the EXIF orientation (phone photos are stored sideways),
* turns every colour mode into plain RGB (transparency is composited over white, 16-bit and
  float images are scaled rather than clipped, CMYK is converted, multi-frame files give their
  first frame),
* refuses, with an :class:`~fer.errors.ImageLoadError` whose message can be shown as-is, empty
  input, files that are not images, truncated or corrupt files, and images with more pixels than
  :data:`MAX_PIXELS` -- the last one checked from the header, before any pixel is decoded.

No global Pillow state is changed (``Image.MAX_IMAGE_PIXELS``, ``ImageFile.LOAD_TRUNCATED_IMAGES``);
Pillow's decompression-bomb warning is turned into an error only inside this module's calls.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Union

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageLoadError

MAX_PIXELS = 50_000_000
"""Largest image (width x height) accepted; the ``FER_MAX_PIXELS`` environment variable overrides it."""

MAX_PIXELS_ENV = "FER_MAX_PIXELS"

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
"""File name endings :func:`list_images` picks up (compared case-insensitively)."""

ImageSource = Union[
    bytes, bytearray, memoryview, str, "os.PathLike[str]", IO[bytes], Image.Image, np.ndarray
]

# What Pillow's parsers and decoders raise on malformed data (UnidentifiedImageError is an OSError).
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    zlib.error,
)
_BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)


def max_pixels() -> int:
    """The pixel limit in force: ``$FER_MAX_PIXELS`` when set, else :data:`MAX_PIXELS`."""
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not raw:
        return int(MAX_PIXELS)
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ImageLoadError(
            f"{MAX_PIXELS_ENV} must be a positive whole number of pixels, not {raw!r}"
        )
    return value


def load_image(source: ImageSource, name: str | None = None) -> np.ndarray:
    """Load ``source`` as a C-contiguous RGB ``uint8`` array of shape (H, W, 3).

    ``source`` may be encoded bytes, a path, a binary file-like object (read from its start when
    seekable, e.g. a Streamlit ``UploadedFile``), a ``PIL.Image.Image`` or a numpy array
    ((H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA; uint8, uint16 or float in [0, 1]).
    ``name`` is used in error messages; it defaults to the file name, else ``"image"``.
    Raises :class:`ImageLoadError` for anything a user could have got wrong.
    """
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source, name or "image", max_pixels())
    if isinstance(source, Image.Image):
        filename = getattr(source, "filename", "") or ""
        name = name or (os.path.basename(filename) if isinstance(filename, str) else "") or "image"
        limit = max_pixels()
        with _bomb_guard(limit):
            return _pil_to_rgb(source, name, limit)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _load_bytes(bytes(source), name or "image")
    if isinstance(source, (str, os.PathLike)):
        return _load_path(Path(os.fspath(source)), name)
    if hasattr(source, "read"):
        return _load_file_object(source, name)
    raise TypeError(f"cannot load an image from a {type(source).__name__}")


def image_to_png_bytes(image_rgb: np.ndarray) -> bytes:
    """Encode a uint8 RGB (H, W, 3), RGBA (H, W, 4) or gray (H, W) array as PNG bytes."""
    arr = np.asarray(image_rgb)
    if arr.dtype != np.uint8 or not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(
            f"expected a uint8 (H, W), (H, W, 3) or (H, W, 4) array, got {arr.dtype} {arr.shape}"
        )
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buffer, format="PNG")
    return buffer.getvalue()


def shrink_to_side(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """``image`` shrunk (area interpolation) so that its longest side is at most ``max_side``,
    and the factor applied to it; an image small enough comes back as itself, factor 1.0
    (never enlarged)."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files directly inside ``folder`` (not in sub-folders), sorted, matched by extension.

    Hidden files (names starting with ".", such as macOS "._photo.jpg" sidecars) are skipped.
    """
    root = Path(folder)
    if not root.exists():
        raise ImageLoadError(f"{root} does not exist")
    if not root.is_dir():
        raise ImageLoadError(f"{root} is not a folder")
    return sorted(
        p
        for p in root.iterdir()
        if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()
    )


# --------------------------------------------------------------------------------------------
# Sources


def _load_path(path: Path, name: str | None) -> np.ndarray:
    file_name = name or str(path)
    name = name or path.name or str(path)
    if path.is_dir():
        raise ImageLoadError(f"{file_name} is a folder, not an image file")
    try:
        handle = open(path, "rb")
    except FileNotFoundError as exc:
        raise ImageLoadError(f"{file_name} does not exist") from exc
    except PermissionError as exc:
        raise ImageLoadError(f"{file_name} cannot be read (permission denied)") from exc
    except OSError as exc:
        raise ImageLoadError(f"{file_name} cannot be read ({exc.strerror or exc})") from exc
    with handle:
        info = os.fstat(handle.fileno())
        if stat.S_ISREG(info.st_mode) and info.st_size == 0:
            raise ImageLoadError(f"{name} is empty (0 bytes)")
        return _decode_stream(handle, name)


def _load_file_object(source: IO[bytes], name: str | None) -> np.ndarray:
    own_name = getattr(source, "name", None)
    name = name or (os.path.basename(own_name) if isinstance(own_name, str) else "") or "image"
    try:
        seekable = getattr(source, "seekable", None)
        if seekable is None or seekable():
            source.seek(0)
        data = source.read()
    except OSError as exc:
        raise ImageLoadError(f"{name} cannot be read ({exc})") from exc
    if isinstance(data, str):
        raise TypeError("file objects must be opened in binary mode to load an image")
    return _load_bytes(bytes(data), name)


def _load_bytes(data: bytes, name: str) -> np.ndarray:
    if not data:
        raise ImageLoadError(f"{name} is empty (0 bytes)")
    return _decode_stream(io.BytesIO(data), name)


def _decode_stream(stream: IO[bytes], name: str) -> np.ndarray:
    limit = max_pixels()
    with _bomb_guard(limit):
        try:
            image = Image.open(stream)
        except UnidentifiedImageError as exc:
            raise ImageLoadError(
                f"{name} is not an image file (or its format is not supported)"
            ) from exc
        except _BOMB_ERRORS as exc:
            raise _too_large_from_pillow(name, limit, exc) from exc
        except _DECODE_ERRORS as exc:
            raise ImageLoadError(f"{name} is truncated or corrupt") from exc
        with image:
            return _pil_to_rgb(image, name, limit)


@contextmanager
def _bomb_guard(limit: int) -> Iterator[None]:
    """Make Pillow's decompression-bomb warning an error, for this block only.

    When the limit was raised above Pillow's own warning threshold, the warning is ignored
    instead, and our header check (plus Pillow's hard error at twice its threshold) applies.
    """
    with warnings.catch_warnings():
        pillow_limit = Image.MAX_IMAGE_PIXELS
        action = "error" if pillow_limit is None or limit <= pillow_limit else "ignore"
        warnings.simplefilter(action, Image.DecompressionBombWarning)
        yield


# --------------------------------------------------------------------------------------------
# Decoding and conversion


def _pil_to_rgb(image: Image.Image, name: str, limit: int) -> np.ndarray:
    width, height = image.size  # from the header: nothing decoded yet
    _check_size(width, height, name, limit)
    try:
        image.load()
    except _BOMB_ERRORS as exc:
        raise _too_large_from_pillow(name, limit, exc) from exc
    except _DECODE_ERRORS as exc:
        raise ImageLoadError(f"{name} is truncated or corrupt") from exc
    try:
        upright = ImageOps.exif_transpose(image)
    except _DECODE_ERRORS:
        upright = image  # broken EXIF: the pixels decoded fine, so show them unrotated
    try:
        rgb = _to_rgb(upright, name)
    except _DECODE_ERRORS as exc:
        raise ImageLoadError(f"{name} is truncated or corrupt") from exc
    return np.ascontiguousarray(rgb)


def _to_rgb(image: Image.Image, name: str) -> np.ndarray:
    mode = image.mode
    transparent = image.info.get("transparency") is not None
    if mode.startswith("I;16"):
        return _gray_to_rgb(_scale_uint16(np.array(image).astype(np.uint16)))
    if mode == "I":
        return _gray_to_rgb(_scale_int(np.array(image)))
    if mode == "F":
        return _gray_to_rgb(_scale_float(np.array(image)))
    if mode in ("RGBA", "RGBa", "LA", "La", "PA") or (
        transparent and mode in ("1", "L", "P", "RGB")
    ):
        return _composite_over_white(np.array(image.convert("RGBA")))
    if mode == "RGB":
        return np.array(image)
    if mode in ("1", "L"):
        return _gray_to_rgb(np.array(image.convert("L")))
    try:
        return np.array(image.convert("RGB"))  # P, CMYK, YCbCr, LAB, HSV, RGBX, ...
    except ValueError as exc:
        raise ImageLoadError(f"{name} uses the {mode} colour mode, which is not supported") from exc


def _array_to_rgb(array: np.ndarray, name: str, limit: int) -> np.ndarray:
    arr = array
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageLoadError(
            f"{name} has shape {array.shape}, but an image must be (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA"
        )
    height, width = arr.shape[:2]
    _check_size(width, height, name, limit)
    if arr.dtype == np.uint8:
        pass
    elif arr.dtype == np.uint16:
        arr = _scale_uint16(arr)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ImageLoadError(f"{name} contains NaN or infinite pixel values")
        low, high = float(arr.min()), float(arr.max())
        if low < 0.0 or high > 1.0:
            raise ImageLoadError(
                f"{name} has float pixel values from {low:g} to {high:g}, but float images must lie in [0, 1]"
            )
        arr = np.rint(arr.astype(np.float64) * 255.0).astype(np.uint8)
    else:
        raise ImageLoadError(
            f"{name} has pixel type {arr.dtype}, but an image must be uint8, "
            "uint16 or float in [0, 1]"
        )
    if arr.ndim == 2:
        return _gray_to_rgb(arr)
    if arr.shape[2] == 4:
        return _composite_over_white(arr)
    return np.array(arr, dtype=np.uint8, order="C", copy=True)  # never alias the caller's array


def _check_size(width: int, height: int, name: str, limit: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageLoadError(f"{name} is empty ({width}x{height} pixels)")
    if width * height > limit:
        raise ImageLoadError(
            f"{name} is {width}x{height} pixels; the limit is {_pixels_text(limit)}"
        )


def _too_large_from_pillow(name: str, limit: int, exc: BaseException) -> ImageLoadError:
    """Pillow refused the header before we saw the size: report what its message says."""
    pillow_limit = Image.MAX_IMAGE_PIXELS or limit
    effective = min(limit, 2 * pillow_limit)
    match = re.search(r"\((\d+) pixels\)", str(exc))
    if match:
        return ImageLoadError(
            f"{name} is {_pixels_text(int(match.group(1)))}; the limit is {_pixels_text(effective)}"
        )
    return ImageLoadError(f"{name} has too many pixels; the limit is {_pixels_text(effective)}")


def _pixels_text(count: int) -> str:
    if count < 1_000_000:
        return f"{count:,} pixels"
    megapixels = f"{count / 1_000_000:.1f}".rstrip("0").rstrip(".")
    return f"{megapixels} megapixel" + ("" if megapixels == "1" else "s")


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray.astype(np.uint8, copy=False)[:, :, None], 3, axis=2)


def _composite_over_white(rgba: np.ndarray) -> np.ndarray:
    rgb = rgba[:, :, :3].astype(np.uint32)
    alpha = rgba[:, :, 3:4].astype(np.uint32)
    out = (rgb * alpha + 255 * (255 - alpha) + 127) // 255
    return out.astype(np.uint8)


def _scale_uint16(values: np.ndarray) -> np.ndarray:
    """0..65535 -> 0..255 by rounding x / 257 (monotonic, 65535 -> 255; no clipping)."""
    return ((values.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _scale_int(values: np.ndarray) -> np.ndarray:
    """Pillow's 32-bit "I" mode: 16-bit data when it fits in 0..65535, else stretched to its range."""
    low, high = int(values.min()), int(values.max())
    if low >= 0 and high <= 65535:
        return _scale_uint16(values)
    return _stretch(values.astype(np.float64), low, high)


def _scale_float(values: np.ndarray) -> np.ndarray:
    """Pillow's float "F" mode: [0, 1] -> x 255, [0, 255] kept, any other range stretched to 0..255."""
    values = values.astype(np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, dtype=np.uint8)
    low, high = float(values[finite].min()), float(values[finite].max())
    values = np.nan_to_num(values, nan=low, posinf=high, neginf=low)
    if low >= 0.0 and high <= 1.0:
        return np.rint(values * 255.0).astype(np.uint8)
    if low >= 0.0 and high <= 255.0:
        return np.rint(values).astype(np.uint8)
    return _stretch(values, low, high)


def _stretch(values: np.ndarray, low: float, high: float) -> np.ndarray:
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.rint((values - low) * (255.0 / (high - low))).astype(np.uint8)


def save_image(image_rgb: np.ndarray, path: str | os.PathLike[str]) -> None:
    """Write an RGB uint8 image; the format follows the file's extension."""
    Image.fromarray(np.ascontiguousarray(image_rgb)).save(path)
