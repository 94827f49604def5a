"""The collector: an HTTP ingest and query service over one DuckDB file (needs thinkt[collector])."""
