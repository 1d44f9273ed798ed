"""Profiles are data: stage arithmetic with a fake clock, options, and precise errors."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from bench.errors import UsageError
from workloads import (
    OPERATIONS,
    OperationMix,
    SkuChooser,
    SkuDistribution,
    build_catalog,
    builtin_names,
    list_profiles,
    load_profile,
)

GOOD = """
name = "t"
description = "test"
[mix]
browse = 0.5
add_item = 0.5
[[stages]]
name = "base"
kind = "hold"
duration_s = 10
rate = 100
[[stages]]
name = "up"
kind = "ramp"
duration_s = 10
rate_end = 300
[[stages]]
name = "jump"
kind = "step"
duration_s = 5
rate = 50
"""


def write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_stage_arithmetic_with_fake_clock(tmp_path: Path) -> None:
    p = load_profile(write(tmp_path, GOOD))
    assert p.duration_s == 25
    assert p.peak_rate == 300
    clock = [0.0, 5.0, 9.999, 10.0, 15.0, 19.999, 20.0, 24.9, 25.0, -1.0]
    rates = [p.rate_at(t) for t in clock]
    assert rates[0] == rates[1] == rates[2] == 100
    assert rates[3] == 100  # ramp starts at the previous stage's end rate
    assert rates[4] == pytest.approx(200)
    assert rates[5] == pytest.approx(300, abs=0.1)
    assert rates[6] == rates[7] == 50
    assert rates[8] == 0 and rates[9] == 0  # outside [0, duration)
    names = [p.stage_at(t).name for t in (0, 10, 19.9, 20, 99)]
    assert names == ["base", "up", "up", "jump", "jump"]
    assert p.expected_ops == pytest.approx(1000 + 2000 + 250)
    assert [r["start_s"] for r in p.stage_table()] == [0, 10, 20]


def test_options_scale_duration_rate(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    scaled = load_profile(path, scale=2.0)
    assert scaled.rate_at(15) == pytest.approx(400) and scaled.scale == 2.0
    stretched = load_profile(path, duration=50)
    assert stretched.duration_s == pytest.approx(50)
    assert stretched.rate_at(30) == pytest.approx(200)  # middle of the ramp, now at 20..40 s
    const = load_profile(path, rate=123, duration=7)
    assert const.duration_s == 7 and const.rate_at(0) == const.rate_at(6.9) == 123
    assert const.mix == {"browse": 0.5, "add_item": 0.5}
    with pytest.raises(UsageError, match="--scale"):
        load_profile(path, scale=0)
    with pytest.raises(UsageError, match="--rate"):
        load_profile(path, rate=-1)
    with pytest.raises(UsageError, match="--duration"):
        load_profile(path, duration=float("nan"))


def test_builtins_load_and_fit_the_time_budget() -> None:
    assert set(builtin_names()) >= {"smoke", "steady", "holiday-rush", "flash-sale", "diurnal"}
    rows = {r["name"]: r for r in list_profiles()}
    assert rows["smoke"]["duration_s"] <= 60
    rush = load_profile("holiday-rush")
    assert 60 <= rush.duration_s <= 90
    base = rush.rate_at(0)
    assert rush.peak_rate == pytest.approx(10 * base)
    assert rush.rate_at(rush.duration_s - 0.1) == pytest.approx(base)
    flash = load_profile("flash-sale")
    assert flash.sku.kind == "hot-set"
    assert flash.peak_rate == pytest.approx(20 * flash.rate_at(0))
    for r in rows.values():
        assert r["description"] and r["peak_rate"] > 0


ZERO = (
    GOOD.replace("rate = 100", "rate = 0")
    .replace("rate_end = 300", "rate_end = 0")
    .replace("rate = 50", "rate = 0")
)
HOT = '[sku]\ndistribution = "hot-set"\nhot_skus = 3\nhot_fraction = 1.5\n'
BAD_CASES = [
    ("name = \n", r"^p\.toml: TOML syntax error: "),
    (
        GOOD.replace("rate = 100", "rate = -5"),
        r"^p\.toml: stages\[0\]\.rate: must be a number >= 0, got -5$",
    ),
    (GOOD.replace("browse = 0.5", "teleport = 0.5"), r"^p\.toml: mix\.teleport: unknown operation"),
    (
        GOOD.replace("browse = 0.5", "browse = 0.4"),
        r"^p\.toml: mix: weights must sum to 1 .*got 0\.9$",
    ),
    (
        GOOD.replace('kind = "ramp"', 'kind = "wiggle"'),
        r"^p\.toml: stages\[1\]\.kind: must be one of",
    ),
    (
        GOOD.replace("duration_s = 10\nrate = 100", "rate = 100"),
        r"^p\.toml: stages\[0\]\.duration_s: must be a number > 0, got None$",
    ),
    (
        GOOD + '[sku]\ndistribution = "zipf"\nhot_skus = 3\n',
        r"^p\.toml: sku\.hot_skus: not a parameter of the zipf",
    ),
    (GOOD + HOT, r"^p\.toml: sku\.hot_fraction: must be between 0 and 1"),
    ("colour = 3\n" + GOOD, r"^p\.toml: colour: unknown key"),
    (ZERO, r"^p\.toml: stages: every stage has rate 0"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_CASES)
def test_bad_profiles_give_one_line_usage_errors(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(UsageError, match=expected) as info:
        load_profile(write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_unknown_profile_name() -> None:
    with pytest.raises(UsageError, match="unknown profile 'nope'"):
        load_profile("nope")
    with pytest.raises(UsageError, match=r"^missing\.toml: cannot read profile"):
        load_profile("missing.toml")


def test_key_choosers_follow_their_distributions() -> None:
    rng = random.Random(1)
    skus = [f"s{i}" for i in range(100)]
    zipf = SkuChooser(skus, SkuDistribution("zipf", s=1.0))
    counts = Counter(zipf.choose(rng) for _ in range(20_000))
    # P(rank 1) / P(rank 2) = 2 for s = 1
    assert 1.8 < counts["s0"] / counts["s1"] < 2.2
    hot = SkuChooser(skus, SkuDistribution("hot-set", hot_skus=5, hot_fraction=0.9))
    draws = [hot.choose(rng) for _ in range(20_000)]
    share = sum(1 for d in draws if d in skus[:5]) / len(draws)
    assert share == pytest.approx(0.9, abs=0.01)
    mix = OperationMix({"browse": 0.75, "checkout": 0.25})
    ops = Counter(mix.choose(rng) for _ in range(20_000))
    assert set(ops) <= set(OPERATIONS)
    assert ops["browse"] / 20_000 == pytest.approx(0.75, abs=0.015)


def test_catalog_gives_hot_skus_their_stock() -> None:
    flash = load_profile("flash-sale")
    cat = build_catalog(flash, seed=7)
    assert len(cat.products) == flash.catalog.products
    assert cat.products[0].stock == flash.catalog.hot_stock
    assert cat.products[flash.sku.hot_skus].stock == flash.catalog.stock
    assert build_catalog(flash, seed=7) == cat
