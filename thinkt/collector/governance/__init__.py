"""Governance: retention, erasure, archive and backup of the collector's store."""
