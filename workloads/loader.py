"""Load and validate profile TOML files; list the built-in ones.

Every problem is a one-line ``UsageError`` naming the file and the field, e.g.
``holiday.toml: stages[2].rate: must be a number >= 0, got -5``.

File format (see ``workloads/profiles/*.toml``)::

    name = "steady"
    description = "..."
    arrival = "poisson"            # or "uniform"
    carts = 5000                   # active carts
    [mix]                          # weights summing to 1 (within 1e-6)
    browse = 0.4 ...
    [sku]                          # zipf {s} | uniform | hot-set {hot_skus, hot_fraction}
    distribution = "zipf"
    s = 1.0
    [catalog]
    products = 10000
    stock = 1000
    hot_stock = 50                 # optional: initial stock of the hot SKUs
    [[stages]]
    name = "baseline"
    kind = "hold"                  # hold | step: rate ; ramp: [rate_start,] rate_end
    duration_s = 20
    rate = 150
    [[faults]]                     # optional: faults as data (see docs/FAULTS.md)
    kind = "kill"                  # kill | restart | pause | partition
    node = "postgres-1"            # a node name or a symbolic one (cassandra-any, ...)
    stage = "plateau"              # optional: at_s counts from this stage's start
    at_s = 0
    duration_s = 10                # pause and partition only
    [targets.redis-cluster]        # optional: launcher settings the scenario depends on
    cluster_node_timeout_ms = 5000
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from workloads.profile import (
    ARRIVALS,
    FAULT_KINDS,
    OPERATIONS,
    SKU_DISTRIBUTIONS,
    STAGE_KINDS,
    CatalogSpec,
    Profile,
    ProfileFault,
    SkuDistribution,
    Stage,
    is_finite_number,
)

MIX_TOLERANCE = 1e-6
_TOP_KEYS = {"name", "description", "arrival", "carts", "mix", "sku", "catalog", "stages",
             "faults", "targets"}  # fmt: skip
#: launcher settings a profile may pin, per target (recorded in the topology settings)
TARGET_OPTIONS: dict[str, dict[str, type[int]]] = {
    "redis-cluster": {"cluster_node_timeout_ms": int},
}
WINDOWED = ("pause", "partition")


def builtin_dir() -> Path:
    return Path(str(resources.files("workloads") / "profiles"))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.toml"))


def load_profile(
    name_or_path: str | Path,
    *,
    scale: float = 1.0,
    duration: float | None = None,
    rate: float | None = None,
) -> Profile:
    """A built-in profile by name, or a TOML file by path, with options applied.

    ``scale`` multiplies every rate; ``duration`` stretches/compresses the stages to that total
    (seconds); ``rate`` replaces the stages with one constant-rate stage of the profile's
    duration (or ``duration``) keeping its mix and key distributions.
    """
    text_path = Path(name_or_path)
    if isinstance(name_or_path, str) and name_or_path in builtin_names():
        path, source = builtin_dir() / f"{name_or_path}.toml", "builtin"
    elif text_path.suffix == ".toml" or text_path.exists():
        path, source = text_path, str(text_path)
    else:
        raise UsageError(
            f"unknown profile {str(name_or_path)!r}: not a built-in "
            f"({', '.join(builtin_names())}) and no such file"
        )
    profile = parse_profile_file(path, source=source)
    return apply_options(profile, scale=scale, duration=duration, rate=rate)


def apply_options(
    profile: Profile,
    *,
    scale: float = 1.0,
    duration: float | None = None,
    rate: float | None = None,
) -> Profile:
    if not is_finite_number(scale) or scale <= 0:
        raise UsageError(f"--scale must be a number > 0, got {scale!r}")
    if duration is not None and (not is_finite_number(duration) or duration <= 0):
        raise UsageError(f"--duration must be a number of seconds > 0, got {duration!r}")
    if rate is not None and (not is_finite_number(rate) or rate <= 0):
        raise UsageError(f"--rate must be a number of operations per second > 0, got {rate!r}")
    if rate is not None:
        total = duration if duration is not None else profile.duration_s
        stage = Stage(f"constant {rate:g}/s", "hold", float(total), float(rate), float(rate))
        profile = replace(profile, name=f"{profile.name}@rate{rate:g}", stages=(stage,))
    elif duration is not None:
        profile = profile.stretched(float(duration))
    if scale != 1.0:
        profile = profile.scaled(float(scale))
    return profile


def parse_profile_file(path: Path, *, source: str | None = None) -> Profile:
    label = path.name
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UsageError(f"{label}: cannot read profile: {e.strerror or e}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{label}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{label}: TOML syntax error: {e}") from None
    return parse_profile(data, label=label, source=source or str(path))


def parse_profile(data: dict[str, Any], *, label: str, source: str = "builtin") -> Profile:
    """Validate a decoded profile document; ``label`` prefixes every error message."""

    def fail(field: str, msg: str) -> UsageError:
        return UsageError(f"{label}: {field}: {msg}")

    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")
    name = data.get("name", Path(label).stem)
    if not isinstance(name, str) or not name:
        raise fail("name", "must be a non-empty string")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise fail("description", "must be a string")
    arrival = data.get("arrival", "poisson")
    if arrival not in ARRIVALS:
        raise fail("arrival", f"must be one of {', '.join(ARRIVALS)}, got {arrival!r}")
    carts = data.get("carts", 5000)
    if not isinstance(carts, int) or isinstance(carts, bool) or carts < 1:
        raise fail("carts", f"must be an integer >= 1, got {carts!r}")
    catalog = _parse_catalog(data.get("catalog", {}), fail)
    mix = _parse_mix(data.get("mix"), fail)
    sku = _parse_sku(data.get("sku", {"distribution": "zipf", "s": 1.0}), catalog, fail)
    stages = _parse_stages(data.get("stages"), fail)
    faults = _parse_faults(data.get("faults", []), stages, fail)
    target_options = _parse_target_options(data.get("targets", {}), fail)
    return Profile(
        name=name,
        description=description,
        stages=stages,
        mix=mix,
        sku=sku,
        carts=carts,
        catalog=catalog,
        arrival=arrival,
        source=source,
        faults=faults,
        target_options=target_options,
    )


def _parse_faults(faults: object, stages: tuple[Stage, ...], fail: Any) -> tuple[ProfileFault, ...]:
    if not isinstance(faults, list):
        raise fail("faults", "must be an array of [[faults]] tables")
    total = sum(s.duration_s for s in stages)
    starts: dict[str, float] = {}
    t = 0.0
    for s in stages:
        starts.setdefault(s.name, t)
        t += s.duration_s
    out = []
    for i, f in enumerate(faults):
        where = f"faults[{i}]"
        if not isinstance(f, dict):
            raise fail(where, "must be a table")
        kind = f.get("kind")
        if kind not in FAULT_KINDS:
            raise fail(f"{where}.kind", f"must be one of {', '.join(FAULT_KINDS)}, got {kind!r}")
        allowed = {"kind", "node", "stage", "at_s"} | ({"duration_s"} if kind in WINDOWED else set())
        extra = sorted(set(f) - allowed)
        if extra:
            raise fail(f"{where}.{extra[0]}", f"not a field of a {kind} fault")
        node = f.get("node")
        if not isinstance(node, str) or not node:
            raise fail(f"{where}.node", "must be a node name such as postgres-1 or cassandra-any")
        base = 0.0
        if "stage" in f:
            if f["stage"] not in starts:
                raise fail(f"{where}.stage", f"no stage {f['stage']!r} (stages: {', '.join(starts)})")
            base = starts[f["stage"]]
        at = base + _number(f.get("at_s", 0.0), f"{where}.at_s", fail)
        duration = None
        if kind in WINDOWED:
            duration = _number(f.get("duration_s"), f"{where}.duration_s", fail, strict=True)
        if at + (duration or 0.0) > total:
            raise fail(where, f"ends at {at + (duration or 0.0):g} s, after the profile's end ({total:g} s)")
        out.append(ProfileFault(kind, node, at, duration))
    return tuple(out)


def _parse_target_options(targets: object, fail: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(targets, dict):
        raise fail("targets", "must be a table of [targets.<target>] tables")
    out: dict[str, dict[str, Any]] = {}
    for target, opts in targets.items():
        if target not in TARGET_OPTIONS:
            raise fail(f"targets.{target}", f"no settings for this target (allowed: {', '.join(TARGET_OPTIONS)})")
        if not isinstance(opts, dict):
            raise fail(f"targets.{target}", "must be a table")
        for key, value in opts.items():
            typ = TARGET_OPTIONS[target].get(key)
            if typ is None:
                raise fail(f"targets.{target}.{key}", f"unknown setting (allowed: {', '.join(TARGET_OPTIONS[target])})")
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise fail(f"targets.{target}.{key}", f"must be a positive {typ.__name__}, got {value!r}")
        out[target] = dict(opts)
    return out


def _number(
    value: object, field: str, fail: Any, *, minimum: float = 0.0, strict: bool = False
) -> float:
    op = ">" if strict else ">="
    bad = not is_finite_number(value)
    if not bad:
        assert isinstance(value, int | float)
        bad = value <= minimum if strict else value < minimum
    if bad:
        raise fail(field, f"must be a number {op} {minimum:g}, got {value!r}")
    assert isinstance(value, int | float)
    return float(value)


def _parse_mix(mix: object, fail: Any) -> dict[str, float]:
    if not isinstance(mix, dict) or not mix:
        raise fail("mix", "missing or empty table of operation weights")
    out: dict[str, float] = {}
    for op, weight in mix.items():
        if op not in OPERATIONS:
            raise fail(f"mix.{op}", f"unknown operation (allowed: {', '.join(OPERATIONS)})")
        out[op] = _number(weight, f"mix.{op}", fail)
    total = sum(out.values())
    if abs(total - 1.0) > MIX_TOLERANCE:
        raise fail("mix", f"weights must sum to 1 (within {MIX_TOLERANCE:g}), got {total:.9g}")
    return out


def _parse_sku(sku: object, catalog: CatalogSpec, fail: Any) -> SkuDistribution:
    if not isinstance(sku, dict):
        raise fail("sku", "must be a table")
    kind = sku.get("distribution", "zipf")
    if kind not in SKU_DISTRIBUTIONS:
        raise fail(
            "sku.distribution", f"must be one of {', '.join(SKU_DISTRIBUTIONS)}, got {kind!r}"
        )
    allowed = {"zipf": {"s"}, "uniform": set(), "hot-set": {"hot_skus", "hot_fraction"}}[kind]
    extra = sorted(set(sku) - allowed - {"distribution"})
    if extra:
        raise fail(f"sku.{extra[0]}", f"not a parameter of the {kind} distribution")
    if kind == "zipf":
        return SkuDistribution("zipf", s=_number(sku.get("s", 1.0), "sku.s", fail, strict=True))
    if kind == "uniform":
        return SkuDistribution("uniform")
    hot = sku.get("hot_skus")
    if not isinstance(hot, int) or isinstance(hot, bool) or not 1 <= hot < catalog.products:
        raise fail("sku.hot_skus", f"must be an integer in [1, catalog.products), got {hot!r}")
    frac = _number(sku.get("hot_fraction"), "sku.hot_fraction", fail)
    if frac > 1:
        raise fail("sku.hot_fraction", f"must be between 0 and 1, got {frac!r}")
    return SkuDistribution("hot-set", hot_skus=hot, hot_fraction=frac)


def _parse_catalog(cat: object, fail: Any) -> CatalogSpec:
    if not isinstance(cat, dict):
        raise fail("catalog", "must be a table")
    extra = sorted(set(cat) - {"products", "stock", "hot_stock"})
    if extra:
        raise fail(f"catalog.{extra[0]}", "unknown key (allowed: products, stock, hot_stock)")
    values: dict[str, int | None] = {}
    for key, default in (("products", 10_000), ("stock", 1_000), ("hot_stock", None)):
        v = cat.get(key, default)
        if v is None:
            values[key] = None
            continue
        minimum = 1 if key == "products" else 0
        if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
            raise fail(f"catalog.{key}", f"must be an integer >= {minimum}, got {v!r}")
        values[key] = v
    products, stock = values["products"], values["stock"]
    assert products is not None and stock is not None
    return CatalogSpec(products=products, stock=stock, hot_stock=values["hot_stock"])


def _parse_stages(stages: object, fail: Any) -> tuple[Stage, ...]:
    if not isinstance(stages, list) or not stages:
        raise fail("stages", "missing or empty: give at least one [[stages]] table")
    out: list[Stage] = []
    prev_end = 0.0
    for i, st in enumerate(stages):
        where = f"stages[{i}]"
        if not isinstance(st, dict):
            raise fail(where, "must be a table")
        kind = st.get("kind", "hold")
        if kind not in STAGE_KINDS:
            raise fail(f"{where}.kind", f"must be one of {', '.join(STAGE_KINDS)}, got {kind!r}")
        allowed = {"name", "kind", "duration_s", "warmup"} | (
            {"rate_start", "rate_end"} if kind == "ramp" else {"rate"}
        )
        extra = sorted(set(st) - allowed)
        if extra:
            raise fail(f"{where}.{extra[0]}", f"not a field of a {kind} stage")
        name = st.get("name", f"stage{i}")
        if not isinstance(name, str) or not name:
            raise fail(f"{where}.name", "must be a non-empty string")
        duration = _number(st.get("duration_s"), f"{where}.duration_s", fail, strict=True)
        if kind == "ramp":
            start = _number(st.get("rate_start", prev_end), f"{where}.rate_start", fail)
            end = _number(st.get("rate_end"), f"{where}.rate_end", fail)
        else:
            start = end = _number(st.get("rate"), f"{where}.rate", fail)
        warmup = st.get("warmup", False)
        if not isinstance(warmup, bool):
            raise fail(f"{where}.warmup", f"must be true or false, got {warmup!r}")
        out.append(Stage(name, kind, duration, start, end, warmup))
        prev_end = end
    if all(s.peak == 0 for s in out):
        raise fail("stages", "every stage has rate 0: nothing would be offered")
    return tuple(out)


def list_profiles() -> list[dict[str, Any]]:
    """Built-in profiles for ``bench list``: name, duration_s, peak_rate, description."""
    rows = []
    for name in builtin_names():
        p = parse_profile_file(builtin_dir() / f"{name}.toml", source="builtin")
        rows.append(
            {
                "name": p.name,
                "duration_s": p.duration_s,
                "peak_rate": p.peak_rate,
                "expected_ops": round(p.expected_ops),
                "description": p.description,
            }
        )
    return rows
