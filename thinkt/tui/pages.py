"""The textual screens: the menu, the collector page and the exporter page."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Callable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, OptionList, Static
from textual.worker import Worker

from thinkt.exporter.report import statusfile
from thinkt.tui import report
from thinkt.tui.client import CollectorClient, CollectorSnapshot
from thinkt.tui.exporterstate import read_exporter
from thinkt.tui.humanize import age, number

log = logging.getLogger(__name__)

#: Seconds between automatic refreshes of the collector page (the issue asks for 5).
COLLECTOR_REFRESH = 5.0
#: The exporter page only reads a local file, so it can follow it more closely.
EXPORTER_REFRESH = 2.0

PAGE_BINDINGS = [
    Binding("escape", "back", "Back"),
    Binding("q", "app.quit", "Quit"),
    Binding("j", "scroll_body(1)", "Down", show=False),
    Binding("k", "scroll_body(-1)", "Up", show=False),
]


def facts_table(rows: report.Rows, value_style: dict[str, str] | None = None) -> Table:
    """A two-column label/value grid; ``value_style`` colours some values by label."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, Text(value, style=(value_style or {}).get(label, "")))
    return grid


def shorten(text: str | None, width: int, keep_end: bool = False) -> str:
    """Cut ``text`` to ``width`` with ``…``; a path keeps its end (the part naming the project)."""
    text = text or "-"
    if len(text) <= width:
        return text
    return "…" + text[-(width - 1):] if keep_end else text[:width - 1] + "…"


class Page(Screen):
    """A status page: a scrollable body, refreshed by itself, with the shared keys."""

    BINDINGS = PAGE_BINDINGS

    def action_back(self) -> None:
        """Go back to the menu (or quit if this page was the only screen)."""
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.app.exit()

    def action_scroll_body(self, lines: int) -> None:
        """Scroll the page body by ``lines`` (``j``/``k``; the arrows do the same)."""
        body = self.query_one(VerticalScroll)
        # At once: deferred to the next refresh, keys that arrive together (a held j)
        # all added to the same position and moved the body one line in all.
        body.scroll_relative(y=lines, animate=False, immediate=True)


class CollectorPage(Page):
    """Server state, registered agents and recent sessions, refreshed every 5 s."""

    BINDINGS = [*PAGE_BINDINGS, Binding("r", "refresh", "Refresh")]
    TITLE = "Collector"

    def __init__(self, client: CollectorClient, interval: float = COLLECTOR_REFRESH):
        super().__init__()
        self.client = client
        self.interval = interval
        self.snapshot: CollectorSnapshot | None = None
        self._fetching: Worker | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="body"):
            yield Static("Connecting…", id="summary")
            yield Static("Agents", classes="section")
            yield DataTable(id="agents", cursor_type="none", zebra_stripes=True)
            yield Static("Recent sessions", classes="section")
            yield DataTable(id="sessions", cursor_type="none", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.client.base
        agents = self.query_one("#agents", DataTable)
        agents.add_columns("Hostname", "Version", "Heartbeat", "Traces", "Status", "Instance")
        sessions = self.query_one("#sessions", DataTable)
        sessions.add_columns("Source", "Project", "Model", "Entries", "Received")
        for table in (agents, sessions):
            table.can_focus = False
        self.query_one(VerticalScroll).focus()
        self.set_interval(self.interval, self.action_refresh)
        self.action_refresh()

    def action_refresh(self) -> None:
        """Fetch a new snapshot in a thread (a slow collector never freezes the keys).

        A fetch still running is left to finish rather than replaced: the thread it
        runs in cannot be interrupted anyway, and a collector slower than the refresh
        interval would otherwise have every fetch cancelled and the page never drawn.
        """
        if self._fetching is not None and not self._fetching.is_finished:
            return
        self._fetching = self.run_worker(self._fetch(), group="collector")

    async def _fetch(self) -> None:
        snap = await asyncio.to_thread(self.client.snapshot)
        self.show(snap)

    def show(self, snap: CollectorSnapshot) -> None:
        """Render a snapshot; a collector that is down keeps the page up and retrying."""
        self.snapshot = snap
        rows = report.collector_rows(snap)
        if not snap.up:
            rows.append(("Retrying", f"every {self.interval:g} s (press r to retry now)"))
        style = {"Status": "bold green" if snap.up else "bold red"}
        self.query_one("#summary", Static).update(facts_table(rows, style))
        agents = self.query_one("#agents", DataTable)
        agents.clear()
        for agent in snap.agents:
            active = agent.get("status") == "active"
            agents.add_row(
                shorten(agent.get("hostname"), 24), shorten(agent.get("version"), 10),
                age(agent.get("last_heartbeat")), number(agent.get("trace_count")),
                Text("● active" if active else "○ stale",
                     style="bold green" if active else "dim red"),
                shorten(agent.get("instance_id"), 14))
        sessions = self.query_one("#sessions", DataTable)
        sessions.clear()
        for session in snap.sessions:
            sessions.add_row(
                session.get("source") or "-",
                shorten(session.get("project_path"), 34, keep_end=True),
                shorten(session.get("model"), 20), number(session.get("entry_count")),
                age(session.get("last_received_at")))


class ExporterPage(Page):
    """The local exporter's status file: connection, watched directories, buffer, counts."""

    TITLE = "Exporter"

    def __init__(self, state_dir: Path, interval: float = EXPORTER_REFRESH):
        super().__init__()
        self.state_dir = state_dir
        self.interval = interval

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="body"):
            yield Static(id="summary")
            yield Static("Watched directories", classes="section")
            yield Static(id="roots")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = str(self.state_dir)
        self.query_one(VerticalScroll).focus()
        self.set_interval(self.interval, self.reload)
        self.reload()

    def reload(self) -> None:
        """Read the status file again (cheap: one small local file)."""
        state = read_exporter(self.state_dir)
        connection = ((state.status or {}).get("collector") or {}).get("status")
        # An exporter that is gone no longer has a connection: its last one is shown dim.
        live = "green" if connection == "connected" else "red"
        style = {"Exporter": "bold green" if state.running else "bold red",
                 "Connection": live if state.running else "dim"}
        if (state.status or {}).get("redaction") == statusfile.REDACTION_OFF:
            style["Redacted"] = "bold yellow"  # secrets leave the machine unmasked
        self.query_one("#summary", Static).update(
            facts_table(report.exporter_rows(state), style))
        roots = report.watched_roots(state)
        self.query_one("#roots", Static).update(
            Text("\n".join(roots) if roots else "-", overflow="fold"))


class MenuPage(Screen):
    """The first screen of ``thinkt tui``: pick a page."""

    BINDINGS = [Binding("q", "app.quit", "Quit"),
                Binding("c", "open('collector')", "Collector"),
                Binding("e", "open('exporter')", "Exporter")]
    TITLE = "Status"

    def __init__(self, open_page: Callable[[str], None]):
        super().__init__()
        self.open_page = open_page

    def compose(self) -> ComposeResult:
        yield Header()
        yield OptionList("Collector: server, agents, recent sessions",
                         "Exporter: this machine's exporter", id="menu")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.open_page(("collector", "exporter")[event.option_index])

    def action_open(self, name: str) -> None:
        """Open a page by name."""
        self.open_page(name)
