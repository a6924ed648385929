"""One photo: read it, find its faces and their expressions, or say in one sentence why it
cannot be read. The CLI's ``predict``, the Batch page and the archive jobs all go through
:func:`analyze_photo`, so a photo gives the same result (and the same rows) wherever it is
analysed."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FerError, ModelNotFoundError


@dataclass
class PhotoResult:
    """A photo's faces (:class:`fer.serving.analyzer.FaceResult`, left to right), or the ``error``
    that kept it from being analysed; ``image`` keeps the pixels (RGB) for annotated copies,
    thumbnails and explanations."""

    name: str
    faces: list = field(default_factory=list)
    error: str | None = None
    image: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """``{"image", "faces": [FaceResult.to_dict()...], "error"?}``: the JSON of ``python
        -m fer predict --json``, the Batch page's results and the rows' source
        (:meth:`fer.output.results.Results.from_images`)."""
        if self.error is not None:
            return {"image": self.name, "error": self.error, "faces": []}
        return {"image": self.name, "faces": [f.to_dict() for f in self.faces]}

    def write_annotated(self, out: str | os.PathLike, inputs: int) -> Path:
        """The photo with its faces drawn, where ``--out`` puts it (a folder, or the file it
        names when the run has one input); returns the path."""
        from ..output.drawing import annotate
        from ..vision.image_io import save_image
        from .inputs import annotated_photo_path

        path = annotated_photo_path(out, Path(self.name), inputs)
        save_image(annotate(self.image, self.faces), path)
        return path


def analyze_photo(analyzer, source: Any, name: str | None = None) -> PhotoResult:
    """``source`` (a path, bytes, a file object or an array) analysed by ``analyzer``; the
    result is named ``name`` (default: the path as given; messages then name the file). A
    photo that cannot be read, or is too large to analyse, gives a result with its ``error``;
    a missing model raises (it is the whole run's fault, not the photo's)."""
    from ..vision.image_io import load_image

    label = str(source) if name is None else name
    try:
        image = load_image(source, name=name)
        return PhotoResult(label, analyzer.analyze(image), image=image)
    except ModelNotFoundError:
        raise
    except FerError as exc:
        return PhotoResult(label, error=str(exc))
    except MemoryError:
        return PhotoResult(label, error=f"{label} is too large to analyse")
