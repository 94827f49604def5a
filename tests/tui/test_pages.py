"""The textual pages, driven by textual's test pilot against a real collector."""

import asyncio
import time

import pytest
from rich.console import Console
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from tests.harness import Collector
from tests.tui.conftest import (
    SESSION_COUNT, STATUS_FILE_FACTS, STATUS_FILE_ROOTS, TOKEN, seed, write_status_file)
from thinkt.tui import client as client_module
from thinkt.tui.app import StatusApp
from thinkt.tui.client import CollectorClient, CollectorSnapshot
from thinkt.tui.pages import CollectorPage, ExporterPage, MenuPage

SIZE = (100, 30)


def text_of(static: Static) -> str:
    """The plain text a Static shows, rendered at the page width."""
    console = Console(width=SIZE[0], record=True, file=open("/dev/null", "w"))
    console.print(static.content)
    console.file.close()
    return console.export_text()


def column(table: DataTable, index: int) -> list[str]:
    return [str(table.get_row_at(row)[index]) for row in range(table.row_count)]


async def settle(app, pilot) -> None:
    """Wait for running fetches to finish and the screen to catch up."""
    await app.workers.wait_for_complete()
    await pilot.pause()


def make_app(url: str, state_dir, start=None, interval=60.0, token=TOKEN) -> StatusApp:
    return StatusApp(lambda: CollectorClient(url, token, "flag --collector-url"), state_dir,
                     start=start, interval=interval)


@pytest.mark.slow
def test_collector_page_shows_server_agents_and_sessions(collector, tmp_path):
    async def scenario():
        app = make_app(collector.url + "/v1/traces", tmp_path, start="collector")
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            page = app.screen
            assert isinstance(page, CollectorPage)
            summary = text_of(page.query_one("#summary", Static))
            assert f"{collector.url} (from flag --collector-url)" in summary
            assert "Status" in summary and "up" in summary
            assert f"Traces    {2 * SESSION_COUNT}" in summary
            assert f"Sessions  {SESSION_COUNT}" in summary
            assert "Agents    2 (2 active)" in summary
            assert "in 2,000  out 200" in summary
            assert "Uptime" in summary and "KiB" in summary
            agents = page.query_one("#agents", DataTable)
            assert sorted(column(agents, 0)) == ["build-box", "laptop-ana"]
            assert set(column(agents, 4)) == {"● active"}
            sessions = page.query_one("#sessions", DataTable)
            assert sessions.row_count == SESSION_COUNT
            assert column(sessions, 1)[0] == f"/home/dev/projects/service-{SESSION_COUNT - 1:02d}"
            assert set(column(sessions, 2)) == {"model-under-test"}
            assert set(column(sessions, 3)) == {"2"}

    asyncio.run(scenario())


@pytest.mark.slow
def test_keys_refresh_scroll_back_and_quit(collector, tmp_path):
    async def scenario():
        app = make_app(collector.url, tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            assert isinstance(app.screen, MenuPage)
            await pilot.press("c")
            await settle(app, pilot)
            page = app.screen
            assert isinstance(page, CollectorPage) and page.snapshot.up
            first = page.snapshot.fetched_at
            await pilot.press("r")
            await settle(app, pilot)
            assert page.snapshot.fetched_at > first
            body = page.query_one(VerticalScroll)
            assert body.max_scroll_y > 0, "the seeded page must be taller than 30 lines"
            await pilot.press("j", "j", "j")
            await pilot.pause()
            assert body.scroll_y == 3
            await pilot.press("k")
            await pilot.pause()
            assert body.scroll_y == 2
            await pilot.press("down")
            await pilot.pause()
            assert body.scroll_y == 3
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, MenuPage)
            await pilot.press("e")
            await pilot.pause()
            assert isinstance(app.screen, ExporterPage)
            await pilot.press("q")
            await pilot.pause()
        assert app.return_code == 0

    asyncio.run(scenario())


class SlowClient(CollectorClient):
    """A collector that answers more slowly than the page refreshes."""

    delay = 0.5

    def snapshot(self) -> CollectorSnapshot:
        time.sleep(self.delay)
        return super().snapshot()


@pytest.mark.slow
def test_a_collector_slower_than_the_refresh_interval_still_gets_drawn(collector, tmp_path):
    # Refreshes every 0.1 s, answers take 0.5 s: a refresh that replaced the fetch in
    # flight would cancel every one of them and the page would say "Connecting…" forever.
    async def scenario():
        app = StatusApp(lambda: SlowClient(collector.url, TOKEN, "flag --collector-url"),
                        tmp_path, start="collector", interval=0.1)
        async with app.run_test(size=SIZE) as pilot:
            page = app.screen
            for _ in range(100):  # bounded: 10 s at most
                await pilot.pause(0.1)
                if page.snapshot is not None:
                    break
            assert page.snapshot is not None and page.snapshot.up
            assert "Connecting" not in text_of(page.query_one("#summary", Static))

    asyncio.run(scenario())


@pytest.mark.slow
def test_page_refreshes_by_itself(collector, tmp_path):
    async def scenario():
        app = make_app(collector.url, tmp_path, start="collector", interval=0.2)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            first = app.screen.snapshot.fetched_at
            for _ in range(100):  # bounded: 10 s at most
                await asyncio.sleep(0.1)
                if app.screen.snapshot.fetched_at > first:
                    break
            assert app.screen.snapshot.fetched_at > first

    asyncio.run(scenario())


@pytest.mark.slow
def test_collector_going_down_and_back(tmp_path):
    port_collector = Collector(tmp_path / "c.duckdb", tmp_path / "c.log", token=TOKEN)
    try:
        port_collector.start()
        seed(port_collector)

        async def scenario():
            app = make_app(port_collector.url, tmp_path, start="collector")
            async with app.run_test(size=SIZE) as pilot:
                await settle(app, pilot)
                page = app.screen
                assert page.snapshot.up
                port_collector.terminate()
                await pilot.press("r")
                await settle(app, pilot)
                assert page.snapshot.state == client_module.DOWN
                summary = text_of(page.query_one("#summary", Static))
                assert "DOWN" in summary and "Retrying" in summary
                assert page.query_one("#sessions", DataTable).row_count == 0
                assert app.is_running
                port_collector.start()
                await pilot.press("r")
                await settle(app, pilot)
                assert page.snapshot.up
                assert page.query_one("#sessions", DataTable).row_count == SESSION_COUNT
                assert "DOWN" not in text_of(page.query_one("#summary", Static))

        asyncio.run(scenario())
    finally:
        port_collector.stop()


@pytest.mark.slow
def test_refused_token_is_shown_not_raised(collector, tmp_path):
    async def scenario():
        app = make_app(collector.url, tmp_path, start="collector", token="wrong")
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            summary = text_of(app.screen.query_one("#summary", Static))
            assert "REFUSED: the collector refused the API key" in summary
            assert app.is_running

    asyncio.run(scenario())


def test_stale_agents_look_different_from_active_ones(tmp_path):
    snap = CollectorSnapshot("http://c:4318", "flag", client_module.UP, stats={}, agents=[
        {"instance_id": "a", "hostname": "alive", "status": "active",
         "last_heartbeat": None, "trace_count": 1},
        {"instance_id": "b", "hostname": "gone", "status": "stale",
         "last_heartbeat": None, "trace_count": 2}])

    class Offline(CollectorClient):
        def snapshot(self):
            return snap

    async def scenario():
        app = StatusApp(lambda: Offline("http://c:4318"), tmp_path, start="collector")
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            table = app.screen.query_one("#agents", DataTable)
            active, stale = table.get_row_at(0)[4], table.get_row_at(1)[4]
            assert (str(active), str(stale)) == ("● active", "○ stale")
            assert active.style != stale.style

    asyncio.run(scenario())


def test_exporter_page_shows_the_status_file(tmp_path):
    write_status_file(tmp_path)

    async def scenario():
        app = StatusApp(lambda: CollectorClient("http://c:4318"), tmp_path, start="exporter")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            page = app.screen
            summary = text_of(page.query_one("#summary", Static))
            assert [fact for fact in STATUS_FILE_FACTS if fact not in summary] == []
            roots = text_of(page.query_one("#roots", Static))
            assert [root for root in STATUS_FILE_ROOTS if root not in roots] == []
            (tmp_path / "exporter-status.json").unlink()
            page.reload()
            await pilot.pause()
            assert "no exporter running" in text_of(page.query_one("#summary", Static))
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, MenuPage)

    asyncio.run(scenario())


def fact(text: str, label: str) -> str:
    """The value beside ``label`` in a rendered facts table (one line per fact)."""
    found = [line for line in text.splitlines() if line.startswith(label + " ")]
    assert len(found) == 1, (label, text)
    return found[0][len(label):].strip()


@pytest.mark.parametrize("redactions, overrides, shown", [
    ({"aws_access_key": 3, "github_token": 9}, {},
     "12 secrets: github_token 9, aws_access_key 3"),
    ({"private_key": 1}, {}, "1 secret: private_key 1"),
    ({}, {}, "none"),
    ({}, {"redaction": "off"}, "redaction off (--no-redact): text is shipped as it is"),
    ({}, {"redaction": "metadata-only"}, "none: no text is shipped (--metadata-only)"),
])
def test_exporter_page_shows_what_was_redacted(tmp_path, redactions, overrides, shown):
    write_status_file(tmp_path, redactions=redactions, **overrides)

    async def scenario():
        app = StatusApp(lambda: CollectorClient("http://c:4318"), tmp_path, start="exporter")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            summary = app.screen.query_one("#summary", Static)
            assert fact(text_of(summary), "Redacted") == shown
            # The page still fits at 100x30 with the extra fact: nothing to scroll.
            assert app.screen.query_one(VerticalScroll).max_scroll_y == 0
            return summary.content

    content = asyncio.run(scenario())
    console = Console(width=SIZE[0], force_terminal=True, color_system="standard",
                      file=open("/dev/null", "w"))
    with console.capture() as captured:
        console.print(content)
    console.file.close()
    line = next(line for line in captured.get().splitlines() if "Redacted" in line)
    # Unmasked secrets leaving the machine stand out; counts are ordinary facts.
    assert ("\x1b[1;33m" in line) == (overrides.get("redaction") == "off"), repr(line)
