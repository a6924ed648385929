"""Archives past one process: photo folders and videos analysed on a Ray cluster.

``python -m fer predict DIR --ray [auto|ADDRESS]`` and ``python -m fer video FILES_OR_DIR --ray``
run :func:`predict_images` and :func:`analyze_videos`; a notebook can call them as they are,
with an :class:`~fer.config.AnalysisConfig` and :class:`RunOptions`.

- :mod:`.cluster`: where the work runs (this process, or Ray actors in an ActorPool), what a
  worker needs (:class:`WorkerSpec`) and what a run did (:class:`ArchiveRun`);
- :mod:`.photos`: photos in batches, one :func:`fer.jobs.photo.analyze_photo` each;
- :mod:`.videos`: a unit per video, or per segment of a long one, joined into one track list;
- :mod:`.spool`: results go, as each unit finishes, into a SQLite file beside the output
  (``OUT.fer-parts.sqlite``), so the driver never holds the archive's rows and a run that
  stopped part-way can resume; at the end the rows are written in input order to a temporary
  file that replaces the output in one step.

Importing this package does not import Ray; a run that asks for it does.
"""

from .cluster import ArchiveRun, RunOptions, WorkerSpec
from .photos import predict_images
from .spool import spool_path
from .videos import analyze_videos

__all__ = [
    "ArchiveRun",
    "RunOptions",
    "WorkerSpec",
    "analyze_videos",
    "predict_images",
    "spool_path",
]
