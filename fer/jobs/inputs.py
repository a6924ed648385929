"""Input files as the CLI and the archive runs take them: files as given, folders expanded to
the images or videos in them (sorted), and where a photo's annotated copy goes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import FerError


def expand_inputs(
    paths: Iterable[str | os.PathLike],
    find: Callable[[Path], list[Path]],
    kind: str,
    extensions: Iterable[str],
) -> list[Path]:
    """Files as given and, for each folder, what ``find`` lists in it; a folder with none of
    ``kind`` (``extensions`` name them in the message) or a missing path raises FerError."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = find(path)
            if not found:
                raise FerError(f"{path} holds no {kind} ({', '.join(extensions)})")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise FerError(f"{path} does not exist")
    return files


def expand_images(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given and the images in folders (sorted), as ``python -m fer predict``."""
    from ..vision.image_io import IMAGE_EXTENSIONS, list_images

    return expand_inputs(paths, list_images, "images", IMAGE_EXTENSIONS)


def _list_videos(folder: Path) -> list[Path]:
    from .video_io import VIDEO_EXTENSIONS

    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in VIDEO_EXTENSIONS
    )


def expand_videos(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given and the videos in folders (sorted by name)."""
    from .video_io import VIDEO_EXTENSIONS

    return expand_inputs(paths, _list_videos, "videos", VIDEO_EXTENSIONS)


def annotated_photo_path(out: str | os.PathLike, image: Path, n_inputs: int) -> Path:
    """Where the annotated copy of ``image`` goes for ``--out``: the file ``out`` names when
    it is one image's, else ``out/<stem>_annotated.png`` (the folders are made)."""
    from ..vision.image_io import IMAGE_EXTENSIONS

    target = Path(out)
    if n_inputs == 1 and target.suffix.lower() in IMAGE_EXTENSIONS:
        target.parent.mkdir(parents=True, exist_ok=True)
        return target
    target.mkdir(parents=True, exist_ok=True)
    return target / f"{image.stem}_annotated.png"
