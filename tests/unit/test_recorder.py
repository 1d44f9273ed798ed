"""The recorder's numbers are exact: HDR read-outs, percentiles of known values, merging."""

from __future__ import annotations

import random

import pytest
from hdrh.histogram import HdrHistogram

from bench.engine import hdrstats
from bench.engine.ledger import Ledger
from bench.engine.recorder import Interval, Recorder, Totals, new_histogram, summarize
from targets.base import Catalog, OpResult, Order, Outcome, Product, Snapshot

OK = OpResult(Outcome.OK)


def exact_percentile(sorted_values: list[int], p: float) -> int:
    """The nearest-rank percentile HdrHistogram approximates."""
    rank = max(int(p / 100 * len(sorted_values) + 0.5), 1)
    return sorted_values[rank - 1]


def test_fast_readouts_equal_hdrh() -> None:
    rng = random.Random(3)
    h = new_histogram()
    for _ in range(50_000):
        h.record_value(int(rng.lognormvariate(7, 1.5)) + 1)
    ps = [0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0]
    assert hdrstats.percentiles(h, ps) == {p: h.get_value_at_percentile(p) for p in ps}
    assert hdrstats.mean(h) == pytest.approx(h.get_mean_value(), rel=1e-12)
    empty = new_histogram()
    assert hdrstats.percentiles(empty, [50.0]) == {50.0: 0}
    assert summarize(empty)["p99"] == 0.0


def test_known_latencies_give_percentiles_within_one_percent() -> None:
    """A deterministic latency sequence: every percentile is computable exactly."""
    rng = random.Random(11)
    service_us = [200 + (i * 7919) % 50_000 for i in range(20_000)]  # 0.2 .. 50.2 ms
    service_us += [rng.randint(100_000, 2_000_000) for _ in range(200)]  # a 1 % tail
    wait_us = [(i * 104_729) % 3_000 for i in range(len(service_us))]
    rec = Recorder()
    for s, w in zip(service_us, wait_us, strict=True):
        intended, start = 0, w * 1000
        rec.completed("add_item", intended, start, start + s * 1000, OK)
    iv = rec.rotate()
    got = summarize(iv.ops["add_item"].service)
    got_intended = summarize(iv.ops["add_item"].intended)
    exact_s = sorted(service_us)
    exact_i = sorted(s + w for s, w in zip(service_us, wait_us, strict=True))
    for key, p in (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99_9", 99.9)):
        assert got[key] == pytest.approx(exact_percentile(exact_s, p) / 1000, rel=0.01), key
        assert got_intended[key] == pytest.approx(exact_percentile(exact_i, p) / 1000, rel=0.01)
    assert got["max"] == pytest.approx(max(service_us) / 1000, rel=0.001)
    assert got["mean"] == pytest.approx(sum(service_us) / len(service_us) / 1000, rel=0.001)
    assert iv.counts["completed"] == len(service_us)


def test_failures_counted_by_outcome_and_type() -> None:
    rec = Recorder()
    rec.completed("checkout", 0, 0, 1_000_000, OpResult(Outcome.TIMEOUT, error=TimeoutError()))
    rec.completed("checkout", 0, 0, 1_000_000, OpResult(Outcome.UNAVAILABLE))
    rec.completed("checkout", 0, 0, 1_000_000, OpResult(Outcome.OUT_OF_STOCK))
    op = rec.rotate().ops["checkout"]
    assert op.count == 3 and op.errors == 2
    assert op.outcomes == {"timeout": 1, "unavailable": 1, "out_of_stock": 1}
    assert op.errors_by_type == {"TimeoutError": 1, "unavailable": 1}


def test_interval_messages_merge_exactly() -> None:
    rng = random.Random(5)
    parts = []
    for _ in range(3):
        rec = Recorder()
        for _ in range(rng.randint(500, 1500)):
            rec.offered()
            rec.started(rng.randint(0, 5_000_000), rng.randint(0, 2_000_000))
            op = rng.choice(["browse", "view_cart"])
            rec.completed(op, 0, 10, 10 + rng.randint(1_000, 90_000_000), OK)
        parts.append(rec.rotate())
    merged = Interval()
    for part in parts:
        merged.absorb(Interval.from_message(part.to_message()))
    for op in ("browse", "view_cart"):
        for kind in ("intended", "service"):
            want = new_histogram()
            for part in parts:
                want.add(getattr(part.ops[op], kind))
            got: HdrHistogram = getattr(merged.ops[op], kind)
            assert got.get_total_count() == sum(getattr(p.ops[op], kind).get_total_count() for p in parts)
            assert hdrstats.percentiles(got, [50, 99, 100]) == hdrstats.percentiles(want, [50, 99, 100])
    assert merged.counts["offered"] == sum(p.counts["offered"] for p in parts)
    assert merged.lag.get_total_count() == merged.counts["started"] == merged.counts["offered"]
    totals = Totals()
    totals.add(merged)
    assert totals.operations_json()["browse"]["count"] == merged.ops["browse"].count


def test_values_beyond_an_hour_are_clamped_and_counted() -> None:
    rec = Recorder()
    rec.completed("browse", 0, 0, 2 * 3600 * 10**9, OK)
    iv = rec.rotate()
    assert iv.counts["clamped"] == 2  # intended and service
    assert iv.ops["browse"].service.get_total_count() == 1


# -- ledger & audit ----------------------------------------------------------------------


def catalog() -> Catalog:
    return Catalog(products=(Product("a", "A", 100, 5), Product("b", "B", 100, 5)), seed=1)


def test_ledger_tracks_acknowledged_state_and_audit_finds_losses() -> None:
    led = Ledger()
    led.apply("add_item", "c1", "a", 2, OK)
    led.apply("add_item", "c1", "a", 1, OK)
    led.apply("set_quantity", "c1", "b", 4, OK)
    led.apply("remove_item", "c1", "b", 0, OpResult(Outcome.NOT_FOUND))  # acked no-op
    led.apply("add_item", "c2", "b", 1, OK)
    led.apply("checkout", "c2", None, 0, OpResult(Outcome.OK, "o1"))
    led.apply("add_item", "c3", "a", 1, OpResult(Outcome.TIMEOUT))  # unknown → uncertain
    assert led.contents("c1") == {"a": 3, "b": 4}
    good = Snapshot(
        carts={"c1": {"a": 3, "b": 4}, "c3": {"a": 1}},
        orders=[Order("o1", "c2", {"b": 1})],
        inventory={"a": 5, "b": 4},
    )
    report = led.audit(good, catalog())
    assert report["acknowledged_writes_lost"] == 0
    assert report["oversold_skus"] == 0
    assert report["checked_carts"] == 2 and report["orders"] == 1
    bad = Snapshot(
        carts={"c1": {"a": 2, "b": 4}},
        orders=[Order("o9", "c2", {"b": 1}), Order("o8", "cx", {"a": 6})],
        inventory={"a": -1, "b": 4},
    )
    report = led.audit(bad, catalog())
    assert report["acknowledged_writes_lost"] == 2  # c1/a quantity, order o1 missing
    assert report["oversold_skus"] == 1 and report["oversold_units"] == 1
    assert any("o1" in d for d in report["details"])
    merged = Ledger.from_message(led.to_message())
    assert merged.audit(good, catalog()) == led.audit(good, catalog())


def test_order_log_packs_orders_and_gives_them_back_exactly() -> None:
    from bench.engine.ledger import AckedOrder, OrderLog

    orders = [
        AckedOrder("ref-1", "c1", {"a": 2, "b": 1}),
        AckedOrder("ünïcode-ørder-2", "c2", None),  # uncertain cart: contents unknown
        AckedOrder("3", "c1", {}),
        AckedOrder("a" * 100, "c3", {"b": 7}),
    ]
    log = OrderLog(orders)
    assert len(log) == 4 and list(log) == orders
    log.extend(OrderLog(orders[:1]))
    assert list(log)[-1] == orders[0] and len(log) == 5
    assert log.nbytes() < 400


def test_recorder_done_fills_counters_and_histograms() -> None:
    rec = Recorder()
    add = rec.op_index("add_item")
    rec.n_offered += 3
    rec.n_started += 2
    rec.done(add, 0, 1_000_000, 3_000_000, OK, 500_000, 2_000_000)  # queued: waited 2 ms
    rec.done(add, 0, 0, 1_000, OpResult(Outcome.TIMEOUT, error=TimeoutError()), 10_000, 0)
    iv = rec.rotate()
    assert iv.counts["offered"] == 3 and iv.counts["started"] == 2
    assert iv.counts["completed"] == 2 and iv.counts["errors"] == 1 and iv.counts["queued"] == 1
    op = iv.ops["add_item"]
    assert op.outcomes == {"ok": 1, "timeout": 1} and op.errors_by_type == {"TimeoutError": 1}
    assert op.intended.get_max_value() == op.intended.get_highest_equivalent_value(3000)
    assert iv.lag.get_total_count() == 2 and iv.queue_wait.get_max_value() >= 1990
    assert rec.rotate().counts["completed"] == 0  # a fresh interval


def test_hlog_interval_max_keeps_microseconds(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Interval_Max is in ms with µs resolution (hdrh's writer floored it to whole ms)."""
    from bench.engine.writers import HlogSet

    h = new_histogram()
    h.record_value(1234)
    logs = HlogSet(tmp_path, "t", 1_700_000_000.0)
    logs.write("browse", "service", h, 0.0, 1.0)
    logs.close()
    line = (tmp_path / "hdr" / "t" / "browse.service.hlog").read_text().splitlines()[-1]
    assert line.split(",")[2] == f"{h.get_max_value() / 1000:.3f}" == "1.234"
