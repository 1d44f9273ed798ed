"""The HTML report and ``bench compare``: read stored results, never a datastore.

Data flows one way::

    run dir ──load──▶ Run ──stats / regression──▶ numbers ──plots + render──▶ index.html
                                                          └──compare────────▶ compare page

Public API: ``render_report(run_dir) -> Path`` and
``compare_runs(run_a, run_b, out=None, threshold=10.0) -> CompareResult``.
"""

from __future__ import annotations

from reports.compare import CompareResult, compare_history, compare_runs
from reports.render import render_report

__all__ = ["CompareResult", "compare_history", "compare_runs", "render_report"]
