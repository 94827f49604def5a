"""The exporter's identity: a stable instance id, a hashed machine id."""

from __future__ import annotations

import uuid

from thinkt.exporter.state.identity import instance_id, machine_id


def test_machine_id_is_hashed_and_stable(tmp_path):
    path = tmp_path / "machine-id"
    path.write_text("0123456789abcdef0123456789abcdef\n")
    first = machine_id((str(tmp_path / "missing"), str(path)))
    assert first == machine_id((str(path),))
    assert len(first) == 32 and "0123456789abcdef" not in first
    assert machine_id((str(tmp_path / "missing"),)) is None


def test_instance_id_is_derived_persisted_and_kept(tmp_path):
    first = instance_id(tmp_path / "a", "machine")
    assert uuid.UUID(first)
    assert (tmp_path / "a" / "instance-id").read_text().strip() == first
    # Same machine and user elsewhere: the same id (cron and systemd agree).
    assert instance_id(tmp_path / "b", "machine") == first
    assert instance_id(tmp_path / "c", "other machine") != first
    # Persisted: a changed machine id keeps the recorded one.
    assert instance_id(tmp_path / "a", "other machine") == first


def test_without_a_machine_id_a_random_id_is_persisted(tmp_path):
    first = instance_id(tmp_path, None)
    assert instance_id(tmp_path, None) == first
