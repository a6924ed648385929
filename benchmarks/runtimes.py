"""LiteRT vs onnxruntime as the serving runtime, measured on this machine.

For each model (shallow, deep) this converts the Keras model to the float LiteRT flatbuffer
(``fer.training.export.convert(model, "float")``) and to ONNX, then measures:

- ms/face at batch 1 and batch 64: LiteRT through ``fer.serving.runtime.RuntimeClassifier`` and
  onnxruntime (CPUExecutionProvider) through a thin wrapper with the same interface, both with as
  many intra-op threads as the machine has cores (``--threads`` to change), both timed by
  ``fer.quality.speed.faces_per_second``. The timing runs in a fresh worker process that never
  imports TensorFlow or Keras (as serving will), the two engines interleaved for ``--rounds`` rounds
  (which goes first alternates); the median round is reported;
- agreement with Keras on real faces (a seeded sample of ``--faces`` FER2013 PublicTest
  images): largest absolute difference of probabilities, and how many faces change top label;
- per runtime: import time in a fresh process (median of 5), installed size of the package
  alone and with its dependencies (numpy excluded: the app needs it anyway; dependencies both
  runtimes share are listed), and the wheel size (estimated by deflating the installed files,
  or read from real wheels with ``--wheels DIR``).

Run it:

    python3 benchmarks/runtimes.py [--rounds 3] [--seconds 2] [--faces 512] [--json out.json]

Getting the ONNX converter. ONNX conversion goes through Keras' own exporter,
``model.export(path, format="onnx")``, which calls ``tf2onnx`` (and ``onnx``) under the hood.
``tf2onnx`` is not part of the app's requirements; so as not to touch the system environment
(TensorFlow 2.21, protobuf, numpy 2), install it into a venv that sees the system packages and
run this script with that venv's python:

    python3 -m venv /tmp/onnxenv --system-site-packages
    /tmp/onnxenv/bin/pip install tf2onnx==1.17.0      # pulls onnx (1.23.2 here); keeps protobuf/numpy
    /tmp/onnxenv/bin/python benchmarks/runtimes.py

Without ``tf2onnx`` importable, give ready-made files instead: ``--onnx-dir DIR`` holding
``shallow.onnx`` and ``deep.onnx`` (made as above, e.g. ``--keep-dir DIR`` of an earlier run,
which keeps every converted file).

Speed on a shared 2-core machine is noisy: compare the two engines within one run (they are
measured interleaved), not figures across runs.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

MODELS = ("shallow", "deep")
ENGINES = ("litert", "onnxruntime")
RUNTIME_PACKAGES = {"litert": "ai-edge-litert", "onnxruntime": "onnxruntime"}
IMPORTS = {"litert": "ai_edge_litert.interpreter", "onnxruntime": "onnxruntime"}
EXCLUDED_DEPS = {"numpy"}  # the app needs it whatever the runtime
VERSIONED = (
    "ai-edge-litert",
    "onnxruntime",
    "tensorflow",
    "keras",
    "tf2onnx",
    "onnx",
    "numpy",
    "protobuf",
    "flatbuffers",
)


# ---------------------------------------------------------------- machine and packages


def machine() -> dict:
    cpu, flags = platform.processor() or "unknown", set()
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        cpu = m.group(1).strip() if m else cpu
        m = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
        flags = set(m.group(1).split()) if m else set()
    except OSError:
        pass
    simd = (
        "AVX-512"
        if "avx512f" in flags
        else "AVX2"
        if "avx2" in flags
        else "neither AVX2 nor AVX-512"
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "simd": simd,
        "avx512_vnni": "avx512_vnni" in flags,
        "python": platform.python_version(),
    }


def versions() -> dict:
    out = {}
    for name in VERSIONED:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _base_requirements(dist) -> list[str]:
    """Names of the requirements that apply without extras, on this platform."""
    from packaging.requirements import Requirement  # packaging ships with pip's users

    names = []
    for spec in dist.requires or []:
        req = Requirement(spec)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        names.append(_norm(req.name))
    return names


def dependency_closure(package: str) -> set[str]:
    """Installed distributions that ``package`` pulls in (itself included)."""
    seen, todo = set(), [_norm(package)]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue
        seen.add(name)
        todo.extend(_base_requirements(dist))
    return seen


def _files(package: str) -> list[Path]:
    dist = md.distribution(package)
    paths = []
    for f in dist.files or []:
        p = Path(dist.locate_file(f))
        if p.is_file() and "__pycache__" not in p.parts:
            paths.append(p)
    return paths


def installed_bytes(package: str) -> int:
    return sum(p.stat().st_size for p in _files(package))


def wheel_estimate(package: str) -> int:
    """Size of the package's installed files deflated as a wheel would be (an estimate)."""
    total = 0
    for p in _files(package):
        total += len(zlib.compress(p.read_bytes(), 6)) + 100  # + zip entry overhead
    return total


def real_wheel(package: str, wheels: Path | None) -> int | None:
    if wheels is None:
        return None
    stem = _norm(package).replace("-", "_")
    version = md.version(package)
    for w in wheels.glob("*.whl"):
        if w.name.lower().startswith(f"{stem}-{version}-"):
            return w.stat().st_size
    return None


def install_sizes(wheels: Path | None) -> dict:
    closures = {e: dependency_closure(p) - EXCLUDED_DEPS for e, p in RUNTIME_PACKAGES.items()}
    shared = set.intersection(*closures.values())
    out = {}
    for engine, package in RUNTIME_PACKAGES.items():
        deps = sorted(closures[engine] - {_norm(package)})
        own = sorted(d for d in deps if d not in shared)
        out[engine] = {
            "package": package,
            "version": md.version(package),
            "package_mb": installed_bytes(package) / 1e6,
            "with_deps_mb": sum(installed_bytes(d) for d in closures[engine]) / 1e6,
            "own_deps": own,
            "shared_deps": sorted(d for d in deps if d in shared),
            "own_deps_mb": sum(installed_bytes(d) for d in own) / 1e6,
            "wheel_mb_estimate": wheel_estimate(package) / 1e6,
            "wheel_mb": (lambda b: b / 1e6 if b else None)(real_wheel(package, wheels)),
        }
    return out


def import_seconds(module: str, repeats: int = 5) -> float:
    """Median time to import ``module`` in a fresh interpreter (measured inside it)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    times = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


# ---------------------------------------------------------------- conversion (TensorFlow side)


def onnx_converter_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("tf2onnx", "onnx"))


def convert_all(work: Path, onnx_dir: Path | None, faces: np.ndarray) -> dict:
    """Write ``<name>.tflite`` and ``<name>.onnx`` into ``work`` and the Keras probabilities
    ``<name>.keras_probs.npy``; returns notes per model."""
    from fer.training.export import convert
    from fer.training.tf_runtime import import_tensorflow

    import_tensorflow()
    import keras

    notes = {}
    for name in MODELS:
        model = keras.models.load_model(ROOT / "models" / f"{name}.keras", compile=False)
        size = int(model.input_shape[1])
        assert size == faces.shape[1], (name, model.input_shape)
        np.save(
            work / f"{name}.keras_probs.npy",
            np.asarray(model.predict(faces, batch_size=256, verbose=0), np.float32),
        )
        t = time.perf_counter()
        (work / f"{name}.tflite").write_bytes(convert(model, "float"))
        tflite_s = time.perf_counter() - t
        onnx_file = work / f"{name}.onnx"
        if onnx_dir is not None:
            onnx_file.write_bytes((onnx_dir / f"{name}.onnx").read_bytes())
            onnx_how, onnx_s = f"given ({onnx_dir / (name + '.onnx')})", None
        else:
            t = time.perf_counter()
            _export_onnx(model, onnx_file)
            onnx_s = time.perf_counter() - t
            onnx_how = "keras model.export(format='onnx') via tf2onnx"
        notes[name] = {
            "params": int(model.count_params()),
            "tflite_convert_s": tflite_s,
            "onnx_convert_s": onnx_s,
            "onnx_from": onnx_how,
            "onnx_ops": _onnx_ops(onnx_file),
        }
    return notes


def _export_onnx(model, path: Path) -> None:
    import contextlib
    import io
    import warnings

    from fer.native_stderr import native_stderr_silenced

    model(np.zeros((1,) + tuple(model.input_shape[1:]), np.float32))  # export wants a called model
    with (
        warnings.catch_warnings(),
        native_stderr_silenced(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        model.export(str(path), format="onnx", verbose=False)


def _onnx_ops(path: Path) -> dict | None:
    try:
        import onnx
    except ImportError:
        return None
    proto = onnx.load(str(path))
    ops: dict[str, int] = {}
    for node in proto.graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    return {
        "opset": max(
            (o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=None
        ),
        "ops": dict(sorted(ops.items())),
    }


# ---------------------------------------------------------------- measurement (no TensorFlow)


class OnnxClassifier:
    """onnxruntime with the interface ``fer.quality.speed`` times: ``input_size`` and
    ``__call__(batch) -> probabilities``."""

    engine = "onnxruntime"

    def __init__(self, path, threads: int | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or os.cpu_count() or 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        inp = self._session.get_inputs()[0]
        self._in = inp.name
        self.input_size = int(inp.shape[1])
        self._session.run(
            None, {self._in: np.zeros((1, self.input_size, self.input_size, 1), np.float32)}
        )

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        return self._session.run(None, {self._in: batch})[0]

    def predict_batched(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        return np.concatenate(
            [self(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        )


def worker(work: Path, rounds: int, seconds: float, threads: int) -> dict:
    """Runs in a fresh process: load both runtime files per model, check agreement with the
    saved Keras probabilities, time both engines interleaved."""
    from fer.quality.speed import faces_per_second
    from fer.serving.runtime import RuntimeClassifier

    faces = np.load(work / "faces.npy")
    out = {}
    for name in MODELS:
        keras_probs = np.load(work / f"{name}.keras_probs.npy")
        engines = {
            "litert": RuntimeClassifier(work / f"{name}.tflite", threads=threads),
            "onnxruntime": OnnxClassifier(work / f"{name}.onnx", threads=threads),
        }
        res = {}
        for engine, clf in engines.items():
            probs = clf.predict_batched(faces)
            res[engine] = {
                "max_abs_diff_vs_keras": float(np.abs(probs - keras_probs).max()),
                "top1_disagreements": int((probs.argmax(1) != keras_probs.argmax(1)).sum()),
                "file_mb": (work / f"{name}.{'tflite' if engine == 'litert' else 'onnx'}")
                .stat()
                .st_size
                / 1e6,
                "ms_per_face_batch1_rounds": [],
                "ms_per_face_batch64_rounds": [],
            }
        for i in range(rounds):
            order = list(engines.items())
            if i % 2:  # neither engine always goes first
                order.reverse()
            for batch in (1, 64):
                for engine, clf in order:
                    fps = faces_per_second(clf, batch, seconds)
                    res[engine][f"ms_per_face_batch{batch}_rounds"].append(1000 / fps)
        for engine in engines:
            for batch in (1, 64):
                r = res[engine][f"ms_per_face_batch{batch}_rounds"]
                res[engine][f"ms_per_face_batch{batch}"] = statistics.median(r)
        out[name] = res
    assert "tensorflow" not in sys.modules and "keras" not in sys.modules
    return out


# ---------------------------------------------------------------- report


def print_report(report: dict) -> None:
    m = report["machine"]
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, {m['simd']}"
        f"{' (VNNI)' if m['avx512_vnni'] else ''}, python {m['python']}"
    )
    print("versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items() if v))
    print(
        f"faces: {report['faces']} FER2013 PublicTest images; timing: {report['rounds']} "
        f"interleaved rounds of {report['seconds']:g} s each, median round; "
        f"{report['threads']} intra-op threads for both"
    )
    print()
    head = (
        "| model | runtime | ms/face b1 | ms/face b64 | faces/s b64 | max abs diff vs Keras "
        "| top-1 changed | file MB |"
    )
    print(head)
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in MODELS:
        for engine in ENGINES:
            r = report["models"][name][engine]
            print(
                f"| {name} | {engine} | {r['ms_per_face_batch1']:.3f} | "
                f"{r['ms_per_face_batch64']:.3f} | {1000 / r['ms_per_face_batch64']:,.0f} | "
                f"{r['max_abs_diff_vs_keras']:.2e} | {r['top1_disagreements']}/{report['faces']} | "
                f"{r['file_mb']:.2f} |"
            )
        lite, ort_ = report["models"][name]["litert"], report["models"][name]["onnxruntime"]
        print(
            f"| {name} | ratio onnxruntime/litert | "
            f"{ort_['ms_per_face_batch1'] / lite['ms_per_face_batch1']:.2f}x | "
            f"{ort_['ms_per_face_batch64'] / lite['ms_per_face_batch64']:.2f}x | | | | |"
        )
    print()
    head = (
        "| runtime | import s (fresh process) | package MB | + deps MB (no numpy) | "
        "own deps | shared deps | wheel MB |"
    )
    print(head)
    print("| --- | ---: | ---: | ---: | --- | --- | ---: |")
    for engine in ENGINES:
        s = report["install"][engine]
        wheel = f"{s['wheel_mb']:.1f}" if s["wheel_mb"] else f"~{s['wheel_mb_estimate']:.1f} (est.)"
        print(
            f"| {s['package']} {s['version']} | {report['import_s'][engine]:.2f} | "
            f"{s['package_mb']:.1f} | {s['with_deps_mb']:.1f} | "
            f"{', '.join(s['own_deps']) or '-'} | {', '.join(s['shared_deps']) or '-'} | {wheel} |"
        )
    print()
    for name in MODELS:
        n = report["conversion"][name]
        ops = n["onnx_ops"]
        ops_text = (
            f"opset {ops['opset']}, ops " + ", ".join(f"{k} x{v}" for k, v in ops["ops"].items())
            if ops
            else "ops not listed (onnx not installed)"
        )
        conv = f"{n['onnx_convert_s']:.1f} s" if n["onnx_convert_s"] is not None else "-"
        print(
            f"{name}: {n['params']:,} parameters; tflite converted in {n['tflite_convert_s']:.1f} s; "
            f"ONNX {n['onnx_from']} in {conv}; {ops_text}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per timing")
    parser.add_argument("--faces", type=int, default=512, help="PublicTest faces for agreement")
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="intra-op threads for both runtimes (default: every core)",
    )
    parser.add_argument("--onnx-dir", type=Path, help="ready-made shallow.onnx and deep.onnx")
    parser.add_argument("--keep-dir", type=Path, help="keep the converted files here")
    parser.add_argument(
        "--wheels",
        type=Path,
        help="folder of the runtimes' downloaded wheels "
        "(pip download --no-deps ai-edge-litert onnxruntime) for real wheel sizes",
    )
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker is not None:  # internal: the measuring process
        spec = json.loads(args.worker.read_text())
        result = worker(Path(spec["work"]), spec["rounds"], spec["seconds"], spec["threads"])
        (Path(spec["work"]) / "worker.json").write_text(json.dumps(result))
        return

    if args.onnx_dir is None and not onnx_converter_available():
        sys.exit(
            "no ONNX converter: install tf2onnx (see this script's docstring) or pass "
            "--onnx-dir with shallow.onnx and deep.onnx"
        )
    if args.onnx_dir is not None:
        missing = [n for n in MODELS if not (args.onnx_dir / f"{n}.onnx").is_file()]
        if missing:
            sys.exit(f"--onnx-dir {args.onnx_dir} lacks " + ", ".join(f"{n}.onnx" for n in missing))

    from fer.quality.dataset import fer2013_dir, load_split
    from fer.vision.preprocessing import to_model_input

    report = {
        "machine": machine(),
        "versions": versions(),
        "rounds": args.rounds,
        "seconds": args.seconds,
        "threads": args.threads,
    }
    test = load_split(fer2013_dir(), "test").subset(args.faces, seed=0)
    faces = to_model_input(test.images)
    report["faces"] = int(len(faces))

    # Import times and sizes first, before this process is busy with TensorFlow.
    report["import_s"] = {e: import_seconds(IMPORTS[e]) for e in ENGINES}
    report["install"] = install_sizes(args.wheels)

    with tempfile.TemporaryDirectory(prefix="fer-runtimes-") as tmp:
        work = Path(tmp) if args.keep_dir is None else args.keep_dir
        work.mkdir(parents=True, exist_ok=True)
        np.save(work / "faces.npy", faces)
        report["conversion"] = convert_all(work, args.onnx_dir, faces)
        spec = work / "worker_spec.json"
        spec.write_text(
            json.dumps(
                {
                    "work": str(work),
                    "rounds": args.rounds,
                    "seconds": args.seconds,
                    "threads": report["threads"],
                }
            )
        )
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--worker", str(spec)],
            check=True,
            env=env,
        )
        report["models"] = json.loads((work / "worker.json").read_text())

    print_report(report)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1))
        print(f"\nfigures written to {args.json}")


if __name__ == "__main__":
    main()
