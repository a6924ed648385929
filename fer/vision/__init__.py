"""Input and detection: images read into one RGB array, faces found in them, and the one path
from a face's pixels to model input (crop, alignment, preprocessing). Serving, the jobs,
evaluation and training all go through here."""
