"""SIGTERM during a run: the engine stops, records ``interrupted`` and leaves no process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

SCENARIOS = Path(__file__).resolve().with_name("test_engine.py")


def _status(results: Path) -> str | None:
    try:
        doc = json.loads(results.read_text())
    except (OSError, ValueError):
        return None
    status: str | None = doc.get("targets", {}).get("ref", {}).get("status")
    return status


def _worker_processes(tmp_path: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if "run_worker" in " ".join(proc.info["cmdline"] or []) and any(
                str(tmp_path) in f.path for f in proc.open_files()
            ):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.mark.parametrize("scenario", ["sigterm", "sigterm-workers"])
def test_sigterm_stops_the_run_cleanly(tmp_path: Path, scenario: str) -> None:
    child = subprocess.Popen(
        [sys.executable, str(SCENARIOS), scenario, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _status(tmp_path / "results.json") != "running":
            assert child.poll() is None, child.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the run never reported progress"
            time.sleep(0.2)
        time.sleep(1.0)  # let it run a little
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]  # not raised (and printed) in a stray greenlet
    doc = json.loads(out.strip().splitlines()[-1])
    assert doc["interrupted"] is True and "SIGTERM" in doc["message"]
    assert _status(tmp_path / "results.json") == "interrupted"
    assert _worker_processes(tmp_path) == []
