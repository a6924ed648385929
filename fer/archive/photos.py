"""Photo archives: folders of photos in batches across workers, each photo's result spooled as
its batch finishes, the rows of ``python -m fer predict --csv`` written in input order at the
end."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..config import AnalysisConfig
from ..errors import FerError
from ..jobs.inputs import expand_images
from ..jobs.photo import analyze_photo
from ..output.progress import ProgressFn
from ..output.results import IMAGE_COLUMNS, image_rows
from .cluster import ArchiveRun, Meter, RunOptions, WorkerSpec, run_units, worker_spec
from .spool import Spool, read_csv_groups, spooled, write_rows


def analyze_photo_batch(analyzer, spec: WorkerSpec, paths: list[str]) -> list[dict]:
    """A worker's job: each photo's result as ``python -m fer predict --json`` gives it
    (:meth:`fer.jobs.photo.PhotoResult.to_dict`), its annotated copy written when ``spec.out``."""
    results = []
    for name in paths:
        photo = analyze_photo(analyzer, name)
        if spec.out and photo.error is None:
            photo.write_annotated(spec.out, spec.inputs)
        results.append(photo.to_dict())
    return results


def predict_images(
    paths: Iterable[str | os.PathLike],
    csv_path: str | os.PathLike | None = None,
    config: AnalysisConfig | None = None,
    options: RunOptions | None = None,
    *,
    out: str | os.PathLike | None = None,
    progress: ProgressFn | None = None,
    emit: Callable[[dict], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> ArchiveRun:
    """Find faces and expressions in photos (files or folders), on Ray workers or, with
    ``options.address`` None, in this process.

    ``csv_path``: the rows of ``python -m fer predict --csv`` (same columns and order), written
    atomically. ``out``: annotated copies, as ``--out``. ``emit(result)`` is called with each
    photo's result in input order at the end (``{"image", "faces"[, "error"]}``; ``{"image",
    "kept": True, "rows"}`` for a photo kept from the earlier output). ``notice`` gets one-line
    notes (a detector fallback, what a resumed run keeps)."""
    options = options or RunOptions()
    files = [str(p) for p in expand_images(paths)]
    spec = worker_spec(config or AnalysisConfig(), notice, out=out, inputs=len(files))
    run = ArchiveRun(inputs=len(files), output=str(csv_path) if csv_path else None)
    with spooled(csv_path, spec.settings(), options.resume) as spool:
        pending = _photos_to_do(spool, files, csv_path if options.resume else None)
        run.kept = len(files) - len(pending)
        if run.kept and notice:
            notice(
                f"resuming: {run.kept} of {len(files)} photos were done before, "
                f"{len(pending)} to analyse"
            )
        size = max(1, options.batch_size)
        batches = [pending[i : i + size] for i in range(0, len(pending), size)]
        meter = Meter(progress, len(pending))

        def finished(batch: list[str], who: dict, results: list[dict]) -> None:
            spool.put_many((r["image"], r) for r in results)
            run.saw(who)
            run.analysed += len(results)
            meter.add(len(results))

        def failed(batch: list[str], reason: str) -> None:
            raise FerError(f"a Ray worker failed for good: {reason}")

        run.workers = run_units(spec, analyze_photo_batch, batches, options, finished, failed)
        run.elapsed_s = meter.elapsed
        run.units = len(files)
        write_rows(csv_path, IMAGE_COLUMNS, _photo_rows(run, spool, files, emit))
    return run


def _photos_to_do(spool: Spool, files: list[str], earlier: str | os.PathLike | None) -> list[str]:
    """The photos no earlier run finished; those in the ``earlier`` output are spooled as
    kept (``{"image", "kept": True, "rows"}``)."""
    done = spool.keys()
    if earlier and Path(earlier).exists():
        wanted = set(files)
        spool.put_many(
            (img, {"image": img, "kept": True, "rows": rows})
            for img, rows in read_csv_groups(Path(earlier), "image")
            if img in wanted and img not in done
        )
        done = spool.keys()
    return [f for f in files if f not in done]


def _photo_rows(
    run: ArchiveRun, spool: Spool, files: list[str], emit: Callable[[dict], None] | None
) -> Iterator[dict]:
    """The CSV rows of every photo in input order (counting the failed ones), emitting each
    photo's result after its rows."""
    for img in files:
        result = spool.get(img)
        if result.get("kept"):
            yield from result["rows"]
        else:
            run.failed += bool(result.get("error"))
            yield from image_rows([result])
        if emit:
            emit(result)
