"""The ``thinkt tui`` application: a menu over the collector and exporter pages."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from textual.app import App

from thinkt.tui.client import CollectorClient
from thinkt.tui.pages import COLLECTOR_REFRESH, CollectorPage, ExporterPage, MenuPage

log = logging.getLogger(__name__)

PAGES = ("collector", "exporter")


class StatusApp(App):
    """Status pages in the terminal; ``start`` opens a page directly (esc still goes to the menu)."""

    TITLE = "thinkt"
    CSS = """
    .section { text-style: bold; margin-top: 1; color: $accent; }
    #body { padding: 0 1; }
    DataTable { height: auto; }
    #menu { margin: 1 2; height: auto; }
    """

    def __init__(self, make_client: Callable[[], CollectorClient], state_dir: Path,
                 start: str | None = None, interval: float = COLLECTOR_REFRESH):
        super().__init__()
        self.make_client = make_client
        self.state_dir = state_dir
        self.start = start
        self.interval = interval
        self._client: CollectorClient | None = None

    def on_mount(self) -> None:
        self.push_screen(MenuPage(self.open_page))
        if self.start:
            self.open_page(self.start)

    def open_page(self, name: str) -> None:
        """Push the page called ``name`` (``collector`` or ``exporter``)."""
        if name == "collector":
            if self._client is None:
                self._client = self.make_client()
            self.push_screen(CollectorPage(self._client, self.interval))
        elif name == "exporter":
            self.push_screen(ExporterPage(self.state_dir))
        else:
            raise ValueError(f"no page {name!r}")

    def on_unmount(self) -> None:
        if self._client is not None:
            self._client.close()
