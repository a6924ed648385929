"""Typed errors whose messages are written for people: a UI or the CLI shows them as they are."""


class FerError(Exception):
    """Base class: anything the user can fix (bad file, missing model, wrong dataset layout)."""


class ImageLoadError(FerError):
    """The input is not an image we can read (not an image, truncated, too large, empty)."""


class ModelNotFoundError(FerError):
    """A trained model file is missing."""


class DatasetError(FerError):
    """A FER2013 root or csv does not have the expected layout."""


class VideoError(FerError):
    """A video cannot be opened or decoded."""
