"""Measuring labels and tracks against a reference: pure numpy/scipy, no Django, so the
benchmarks and the quality checks share one implementation."""
