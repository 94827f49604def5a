"""Report: counters, progress, the summary, the status file and the dry-run survey."""
