"""Noticing that session files changed: inotify on every directory under the roots, or polling.

:class:`Watcher` puts an inotify watch on every directory under each root (and on the
nearest existing parent of a root that does not exist yet, so that it is picked up
when created), adds watches for directories as they appear, and reports the session
files that were written, created, moved in or deleted. When inotify is unavailable
or the kernel runs out of watches it falls back to polling: stat the known files and
walk the roots every ``poll_interval`` seconds. Either way :meth:`Watcher.wait` blocks
in ``poll(2)`` until something happens or the timeout passes, so an idle exporter
uses no CPU; a second file descriptor (the daemon's signal pipe) wakes it too.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import select
import time
from pathlib import Path
from typing import Iterable

from thinkt.exporter.watch.roots import WatchRoot

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Changes:
    """What :meth:`Watcher.wait` saw."""

    files: dict = dataclasses.field(default_factory=dict)  # path -> WatchRoot, maybe new data
    gone: set = dataclasses.field(default_factory=set)  # paths deleted or moved away
    rescan: bool = False  # events were lost (queue overflow): look at everything
    woken: bool = False  # the wake descriptor became readable

    def __bool__(self) -> bool:
        return bool(self.files or self.gone or self.rescan or self.woken)

    def merge(self, other: "Changes") -> None:
        """Fold ``other`` into this one."""
        self.files.update(other.files)
        self.gone |= other.gone
        self.gone -= set(other.files)
        self.rescan |= other.rescan
        self.woken |= other.woken


def walk_files(root: WatchRoot, directory: Path | None = None) -> Iterable[Path]:
    """Yield the session files of ``root``'s source under ``directory`` (default: the root)."""
    top = directory or root.path
    for dirpath, _dirnames, filenames in os.walk(top):
        for name in filenames:
            path = Path(dirpath, name)
            if root.owns(path):
                yield path


class Watcher:
    """Report changed session files under a set of roots."""

    def __init__(self, roots: list[WatchRoot], *, polling: bool = False,
                 poll_interval: float = 1.0, wake_fd: int | None = None):
        self.roots = roots
        self.poll_interval = poll_interval
        self.wake_fd = wake_fd
        self.mode = "polling" if polling else "inotify"
        self._inotify = None
        self._dirs: dict[int, tuple[Path, WatchRoot | None]] = {}  # wd -> (directory, root)
        self._wds: dict[str, int] = {}  # directory -> wd
        self._pending_roots: list[WatchRoot] = []  # roots that do not exist yet
        self._unwatchable: set[str] = set()  # directories add_watch refused (said once)
        self._known: dict[str, tuple] = {}  # polling: path -> (size, mtime_ns, ino)
        self._known_roots: dict[str, WatchRoot] = {}
        self._next_poll = 0.0
        self._poller = select.poll()
        if wake_fd is not None:
            self._poller.register(wake_fd, select.POLLIN)

    # -- set-up ------------------------------------------------------------------------

    def start(self) -> "Watcher":
        """Set up the watches (or polling when inotify is not usable)."""
        if self.mode == "inotify":
            try:
                from inotify_simple import INotify

                self._inotify = INotify()
            except (ImportError, OSError) as exc:
                log.warning("inotify unavailable (%s): polling every %.1fs instead", exc,
                            self.poll_interval)
                self.mode = "polling"
            else:
                self._poller.register(self._inotify.fileno(), select.POLLIN)
                for root in self.roots:
                    self._watch_root(root)
        if self.mode == "polling":
            # The baseline: what exists now is the caller's first scan's business.
            self.poll()
            self._next_poll = time.monotonic() + self.poll_interval
        return self

    def rewatch(self) -> None:
        """Watch any directory under the roots that has no watch yet.

        Events can be lost (a queue overflow drops the CREATE of a new directory, too),
        so every rescan calls this before reading: a directory the events missed is
        watched from then on, not only read once.
        """
        if self.mode == "inotify":
            for root in self.roots:
                self._watch_root(root)

    def close(self) -> None:
        """Drop every watch."""
        if self._inotify is not None:
            try:
                self._poller.unregister(self._inotify.fileno())
            except (KeyError, ValueError):
                pass
            self._inotify.close()
            self._inotify = None
        self._dirs.clear()
        self._wds.clear()

    @property
    def directories(self) -> int:
        """How many directories are watched (inotify) or walked (polling)."""
        if self.mode == "inotify":
            return len(self._wds)
        return len(self.roots)

    @staticmethod
    def _mask(root: WatchRoot | None) -> int:
        from inotify_simple import flags

        if root is None:
            # Above a root that does not exist yet: only its appearance matters.
            return flags.CREATE | flags.MOVED_TO | flags.ONLYDIR
        return (flags.CREATE | flags.MODIFY | flags.CLOSE_WRITE | flags.MOVED_TO
                | flags.MOVED_FROM | flags.DELETE | flags.ONLYDIR)

    def _watch_root(self, root: WatchRoot) -> bool:
        """Watch ``root``, or its nearest existing parent until it appears; True once watched."""
        # Each turn gets a level deeper, so the bound is only for a directory that keeps
        # being created and removed under us.
        for _ in range(len(root.path.parts) + 1):
            if root.path.is_dir():
                if root in self._pending_roots:
                    self._pending_roots.remove(root)
                self._watch_tree(root.path, root)
                return True
            if root not in self._pending_roots:
                self._pending_roots.append(root)
            parent = root.path.parent
            while not parent.is_dir() and parent != parent.parent:
                parent = parent.parent
            self._add_watch(parent, None)
            if self.mode != "inotify":
                return False
            # The next level may have been created between looking and watching: its
            # CREATE event was then never queued, so look again now the watch is there.
            below = parent / root.path.relative_to(parent).parts[0]
            if not below.is_dir():
                return False
        return False

    def _watch_tree(self, top: Path, root: WatchRoot) -> None:
        """Watch ``top`` and every directory under it (symlinked directories are not followed).

        Each directory is watched before it is listed, so one created in between is
        either in the listing or reported by the new watch, never missed by both.
        """
        stack = [top]
        while stack and self.mode == "inotify":
            directory = stack.pop()
            self._add_watch(directory, root)
            try:
                with os.scandir(directory) as entries:
                    stack.extend(Path(entry.path) for entry in entries
                                 if entry.is_dir(follow_symlinks=False))
            except OSError:  # gone again, or not readable: nothing to watch below it
                continue

    def _add_watch(self, directory: Path, root: WatchRoot | None) -> bool:
        key = str(directory)
        known = self._wds.get(key)
        if known is not None and (root is None or self._dirs[known][1] is not None):
            return False
        try:
            # Watching a watched directory again replaces its mask (same wd).
            wd = self._inotify.add_watch(key, self._mask(root))
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                log.warning("out of inotify watches (fs.inotify.max_user_watches) at %s: "
                            "polling every %.1fs instead", directory, self.poll_interval)
                self._fall_back_to_polling()
            elif exc.errno not in (errno.ENOENT, errno.ENOTDIR) and key not in self._unwatchable:
                # Once: every rescan tries again (rewatch), and a log line a minute helps no one.
                self._unwatchable.add(key)
                log.warning("cannot watch %s: %s", directory, exc.strerror)
            return False
        self._dirs[wd] = (directory, root)
        self._wds[key] = wd
        return True

    def _fall_back_to_polling(self) -> None:
        self.close()
        self.mode = "polling"
        self._next_poll = 0.0

    # -- waiting -----------------------------------------------------------------------

    def wait(self, timeout: float) -> Changes:
        """Block up to ``timeout`` seconds for changes; return what changed (maybe nothing)."""
        if self.mode == "polling":
            timeout = max(0.0, min(timeout, self._next_poll - time.monotonic()))
        changes = Changes()
        ready = self._poller.poll(max(0, int(timeout * 1000)))
        for fd, _mask in ready:
            if fd == self.wake_fd:
                changes.woken = True
        if self._inotify is not None and any(fd == self._inotify.fileno() for fd, _ in ready):
            changes.merge(self._read_events())
        if self.mode == "polling" and time.monotonic() >= self._next_poll:
            changes.merge(self.poll())
            self._next_poll = time.monotonic() + self.poll_interval
        return changes

    def _read_events(self) -> Changes:
        from inotify_simple import flags

        changes = Changes()
        for event in self._inotify.read(timeout=0):
            if event.mask & flags.Q_OVERFLOW:
                log.warning("inotify queue overflowed: rescanning")
                changes.rescan = True
                continue
            entry = self._dirs.get(event.wd)
            if entry is None:
                continue
            directory, root = entry
            if event.mask & flags.IGNORED:
                self._dirs.pop(event.wd, None)
                self._wds.pop(str(directory), None)
                continue
            if not event.name:
                continue  # an event on the directory itself (DELETE_SELF, MOVE_SELF)
            path = directory / event.name
            if event.mask & flags.ISDIR:
                if event.mask & (flags.CREATE | flags.MOVED_TO):
                    changes.merge(self._new_directory(path, root))
                elif event.mask & flags.MOVED_FROM:
                    changes.rescan = True  # files under it now live elsewhere
                continue
            if root is None or not root.owns(path):
                continue
            if event.mask & (flags.DELETE | flags.MOVED_FROM):
                changes.gone.add(path)
                changes.files.pop(path, None)
            else:
                changes.files[path] = root
                changes.gone.discard(path)
            if self.mode != "inotify":
                break
        return changes

    def _new_directory(self, path: Path, root: WatchRoot | None) -> Changes:
        """Watch a new directory and report the files already in it (written before the watch)."""
        changes = Changes()
        if root is None:
            # Something appeared above a root that does not exist yet: is it there now?
            for pending in list(self._pending_roots):
                if self._watch_root(pending):
                    log.info("%s appeared: watching it", pending.path)
                    for file in walk_files(pending):
                        changes.files[file] = pending
            return changes
        self._watch_tree(path, root)
        for file in walk_files(root, path):
            changes.files[file] = root
        return changes

    # -- polling -----------------------------------------------------------------------

    def poll(self) -> Changes:
        """Walk every root and report files that are new, changed or gone since the last poll."""
        changes = Changes()
        seen: dict[str, tuple] = {}
        for root in self.roots:
            if not root.path.is_dir():
                continue
            for path in walk_files(root):
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                key = str(path)
                seen[key] = (st.st_size, st.st_mtime_ns, st.st_ino)
                if self._known.get(key) != seen[key]:
                    changes.files[path] = root
                self._known_roots[key] = root
        for key in set(self._known) - set(seen):
            changes.gone.add(Path(key))
            self._known_roots.pop(key, None)
        self._known = seen
        return changes

