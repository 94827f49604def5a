"""State: what the exporter keeps between runs (offsets, lock, identity) and the ledger of positions."""
