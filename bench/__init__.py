"""cartbench: shopping-cart peak-load benchmarks on real datastores."""

__version__ = "0.1.0"
