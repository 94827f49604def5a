"""Ship: finding the collector, building payloads, sending them, and the disk buffer."""
