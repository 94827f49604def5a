"""Read: turning what is new in a session file into entries and payloads, slice by slice."""
