"""Benchmark harness for issue 7: the platform against a bare PySpark script and hand-written
DuckDB SQL, on generated seed-format data. Run with ``make bench`` or
``.venv/bin/python -m benchmarks --sizes 1M``; never part of ``make test``."""
