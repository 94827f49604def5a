"""The exporter: read local assistant sessions, ship them to a collector.

Nothing under this package may import Flask, gunicorn or DuckDB: a laptop that only
exports installs ``thinkt[exporter]`` (requests, inotify_simple) and no more.
"""
