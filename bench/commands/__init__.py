"""One module per CLI concern; ``bench.cli`` only wires them together."""
