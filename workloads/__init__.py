"""Workloads as data: load profiles (stages of offered rate), operation mixes, key choosers.

Nothing here knows a datastore or imports locust.

    profile = load_profile("holiday-rush", scale=1.0, duration=None, rate=None)
    profile.rate_at(t); profile.stage_at(t)      # pure functions of elapsed seconds
    list_profiles()                               # for ``bench list``
    build_catalog(profile, seed)                  # the catalog ``prepare`` loads
"""

from __future__ import annotations

from workloads.catalog import build_catalog, cart_name, make_catalog, sku_name
from workloads.loader import (
    apply_options,
    builtin_names,
    list_profiles,
    load_profile,
    parse_profile,
)
from workloads.profile import (
    OPERATIONS,
    CatalogSpec,
    Profile,
    SkuDistribution,
    Stage,
    profile_from_dict,
    profile_to_dict,
)
from workloads.samplers import OperationMix, SkuChooser

__all__ = [
    "OPERATIONS",
    "CatalogSpec",
    "OperationMix",
    "Profile",
    "SkuChooser",
    "SkuDistribution",
    "Stage",
    "apply_options",
    "build_catalog",
    "builtin_names",
    "cart_name",
    "list_profiles",
    "load_profile",
    "make_catalog",
    "parse_profile",
    "profile_from_dict",
    "profile_to_dict",
    "sku_name",
]
