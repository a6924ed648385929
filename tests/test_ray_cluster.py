"""Ray runs that start whole clusters or kill the driver: each runs inside its own network and
PID namespace (``unshare -n -p``), so it talks on a private loopback only, and when the
namespace's first process ends, the kernel ends every Ray process the test started there.

- two nodes on one machine: ``ray start --head --num-cpus 1`` and a second ``ray start
  --address ... --num-cpus 1`` with its own temporary directory, the CLI joining by address;
- the driver killed part-way (SIGKILL): no output file, and ``--resume`` finishes the rest."""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fer.cli import main
from tests.shared_data import ROOT
from tests.test_ray import make_photo_folder, read_csv

pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")


def _namespaces_work() -> str | None:
    """Why a private network + PID namespace cannot be made here, or None."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs unshare and ip (util-linux, iproute2)"
    if shutil.which("ray") is None:
        return "the ray command is not on PATH"
    try:
        r = subprocess.run(
            [
                "unshare",
                "-n",
                "-p",
                "-f",
                "--mount-proc",
                "sh",
                "-c",
                "ip link set lo up && echo $$",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare failed ({exc})"
    if r.returncode != 0 or r.stdout.strip() != "1":
        return f"cannot create network and PID namespaces here ({r.stderr.strip() or 'not root'})"
    return None


WHY_NOT = _namespaces_work()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=f"cluster tests: {WHY_NOT}")


def run_in_namespace(
    script: str, timeout_s: float = 300, until=None
) -> subprocess.CompletedProcess | None:
    """Run a bash ``script`` as the first process of new network and PID namespaces, in its
    own session. ``until()``: polled every 0.1 s; when it is true the whole namespace is killed
    (returns None). The session is killed on timeout and always at the end."""
    env = {
        **os.environ,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(16),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)  # =0 forbids a second node
    proc = subprocess.Popen(
        [
            "unshare",
            "-n",
            "-p",
            "-f",
            "--mount-proc",
            "--kill-child",
            "bash",
            "-c",
            "set -e; ip link set lo up; " + script,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        if until is not None:
            deadline = time.monotonic() + timeout_s
            while proc.poll() is None and time.monotonic() < deadline:
                if until():
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=30)
                    return None
                time.sleep(0.1)
        out, err = proc.communicate(timeout=timeout_s)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def fer_command(*args) -> str:
    return " ".join(shlex.quote(str(a)) for a in [sys.executable, "-m", "fer", *args])


@pytest.fixture
def shipped_models(monkeypatch):
    monkeypatch.delenv("FER_MODELS_DIR", raising=False)


@pytest.fixture
def short_tmp():
    """Ray's socket paths must stay under 108 bytes: a short folder of our own in /tmp."""
    folder = Path(tempfile.mkdtemp(prefix="fer-ray-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_two_nodes_joined_by_address(tmp_path, short_tmp, shipped_models):
    from skimage import data

    photos = make_photo_folder(tmp_path / "photos", data.astronaut())
    expected, table = tmp_path / "single.csv", tmp_path / "two-nodes.csv"
    main(["predict", str(photos), "--detector", "haar", "--csv", str(expected)])
    head, node = short_tmp / "head", short_tmp / "node2"
    start = "ray start --disable-usage-stats --num-cpus 1 --node-ip-address 127.0.0.1"
    r = run_in_namespace(
        f"{start} --head --port 6390 --include-dashboard=false --temp-dir {head} >/dev/null; "
        f"{start} --address 127.0.0.1:6390 --temp-dir {node} >/dev/null; "
        + fer_command(
            "predict",
            photos,
            "--detector",
            "haar",
            "--csv",
            table,
            "--ray",
            "127.0.0.1:6390",
            "--batch-size",
            "1",
            "--no-progress",
        )
        + " || echo exit=$?"
    )
    assert r is not None and r.returncode == 0, r.stderr
    assert "exit=1" in r.stdout  # one broken photo, as the single-process run
    assert "ray: 8 photos" in r.stderr and "on 2 workers, 2 nodes" in r.stderr, r.stderr
    assert table.read_bytes() == expected.read_bytes()
    assert head.is_dir() and node.is_dir()


def test_driver_killed_part_way_leaves_no_output_and_resume_finishes(tmp_path, shipped_models):
    from skimage import data

    from fer.archive import spool_path

    photos = make_photo_folder(tmp_path / "photos", data.astronaut(), copies=3)  # 22 files
    expected, table = tmp_path / "single.csv", tmp_path / "faces.csv"
    main(["predict", str(photos), "--detector", "haar", "--csv", str(expected)])
    spool = spool_path(table)

    def some_work_finished() -> bool:
        if not spool.exists():
            return False
        try:
            with sqlite3.connect(f"file:{spool}?mode=ro", uri=True, timeout=1) as db:
                return db.execute("SELECT COUNT(*) FROM done").fetchone()[0] >= 2
        except sqlite3.Error:
            return False

    command = fer_command(
        "predict",
        photos,
        "--detector",
        "haar",
        "--csv",
        table,
        "--ray",
        "--batch-size",
        "1",
        "--no-progress",
    )
    killed = run_in_namespace(command, until=some_work_finished)
    assert killed is None, "the run ended before it could be killed"
    assert not table.exists() and spool.exists()
    assert not list(tmp_path.glob(".faces.csv.*"))  # no temporary output left either
    with sqlite3.connect(str(spool)) as db:
        before = db.execute("SELECT COUNT(*) FROM done").fetchone()[0]
    assert 2 <= before < 22

    r = run_in_namespace(command + " --resume || echo exit=$?")
    assert r is not None and "exit=1" in r.stdout, r.stderr
    assert f"resuming: {before} of 22 photos were done before" in r.stderr
    assert table.read_bytes() == expected.read_bytes()
    assert len({row["image"] for row in read_csv(table)}) == 22
    assert not spool.exists()
