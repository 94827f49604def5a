"""Who may see the pages: sign-in with a ``read`` token, the session cookie, sign-out, and
the checks that keep other sites' forms out.

The browser holds Flask's signed session cookie (HttpOnly, SameSite=Lax, Secure under
HTTPS), which keeps the token's fingerprint (auth.py: an HMAC under the web secret),
never the token. Every request looks the fingerprint up again, so a token removed from
the token file (and the collector restarted) ends its sessions, and one that lost the
``read`` role cannot open a page. Signing out records the session's id in a file of the
state directory that every worker reads (:class:`SignedOut`): a copy of the cookie
taken before the sign-out opens nothing afterwards. A collector without tokens (loopback
use) has open pages and no sign-in.

A POST (sign-in, sign-out) must carry the session's form token, and its ``Origin`` (or
``Referer``) must be this collector; SameSite=Lax already keeps the cookie off other
sites' posts. The token travels only in the sign-in form's body: never in a URL, a log
line or a page.
"""

from __future__ import annotations

import fcntl
import hmac
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (current_app, g, redirect, render_template, request, session, url_for)
from werkzeug.exceptions import BadRequest, Forbidden

from thinkt import paths
from thinkt.collector import auth
from thinkt.collector.web import SESSION_LIFETIME, blueprint

log = logging.getLogger(__name__)

#: Endpoints open without a sign-in: the sign-in page itself and the static files.
OPEN = frozenset({"web.signin", "web.static"})
#: The state directory's file of signed-out sessions.
SIGNED_OUT_FILE = "web-signed-out"
#: Size past which the signed-out file drops the ids whose cookies have expired anyway.
COMPACT_AT = 64 * 1024


class SignedOut:
    """Session ids signed out before their cookies expire, in a file every worker reads.

    A line is ``<session id> <expiry, epoch seconds>``; appends under an exclusive lock,
    reads cached by the file's size and time, so a page costs one ``stat``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._ids: frozenset[str] = frozenset()

    def add(self, session_id: str, expires: float) -> None:
        """Record that ``session_id`` signed out (kept until ``expires``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):  # a retry needs a compaction between open and lock: rare
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                # Another worker may have compacted (replaced) the file while this one
                # waited for the lock: a line written to the old file would be lost.
                if os.fstat(fd).st_ino != _inode(self.path):
                    continue
                os.write(fd, f"{session_id} {int(expires)}\n".encode("ascii"))
                if os.fstat(fd).st_size > COMPACT_AT:
                    self._compact()
                return
            finally:
                os.close(fd)  # releases the lock
        raise OSError(f"{self.path} kept being replaced: the sign-out was not recorded")

    def __contains__(self, session_id: str) -> bool:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return False
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp != self._stamp:
            self._ids = frozenset(sid for sid, _ in self._read())
            self._stamp = stamp
        return session_id in self._ids

    def _read(self) -> list[tuple[str, int]]:
        now = time.time()
        live = []
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return []
        for line in text.splitlines():
            sid, _, expires = line.partition(" ")
            if expires.isdigit() and int(expires) > now:
                live.append((sid, int(expires)))
        return live

    def _compact(self) -> None:
        # Called with the lock held: no append can land between the read and the replace.
        live = self._read()
        size = self.path.stat().st_size
        kept = sum(len(f"{sid} {expires}\n") for sid, expires in live)
        if kept * 2 > size:
            return  # most ids are live: replacing would hardly shrink it, and each
            # replacement makes the workers waiting for the lock open the file again
        fresh = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        fresh.write_text("".join(f"{sid} {expires}\n" for sid, expires in live),
                         encoding="ascii")
        os.chmod(fresh, 0o600)
        os.replace(fresh, self.path)


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def _keyring() -> auth.Keyring:
    return current_app.extensions["thinkt.keyring"]


def _signed_out() -> SignedOut:
    found = current_app.extensions.get("thinkt.web.signed_out")
    if found is None:
        found = current_app.extensions["thinkt.web.signed_out"] = SignedOut(
            paths.state_dir() / SIGNED_OUT_FILE)
    return found


def sign_in_possible() -> bool:
    """True when this collector can keep a signed cookie (it has a web secret)."""
    return bool(current_app.secret_key)


def current_grant() -> auth.Grant | None:
    """Return the grant of this request's session cookie, or None (not signed in, expired,
    signed out, or its token removed or without ``read``)."""
    if not sign_in_possible():
        return None
    fingerprint, session_id, since = session.get("fp"), session.get("sid"), session.get("at")
    if not (isinstance(fingerprint, str) and isinstance(session_id, str)
            and isinstance(since, (int, float))):
        return None
    if time.time() - since > SESSION_LIFETIME.total_seconds():
        return None
    found = _keyring().find_fingerprint(fingerprint)
    if found is None or not found.allows(auth.READ) or session_id in _signed_out():
        return None
    return found


def form_token() -> str:
    """Return this session's token for forms (made on first use)."""
    token = session.get("csrf")
    if not isinstance(token, str) and sign_in_possible():
        token = session["csrf"] = secrets.token_urlsafe(24)
    return token or ""


def _same_origin() -> bool:
    """True when the request's Origin (or, without one, its Referer) is this collector."""
    claimed = request.headers.get("Origin") or request.headers.get("Referer")
    if not claimed:
        return True  # sent by no browser that would leave it out cross-site (SameSite does the rest)
    from thinkt.collector.api import public_base_url

    try:
        ours = urlsplit(public_base_url())
    except BadRequest:
        return False
    theirs = urlsplit(claimed)
    return (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc)


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or urlsplit(target).netloc:
        return url_for("web.overview")
    return target


@blueprint.before_request
def guard() -> Any:
    """Check POSTs for cross-site forgery, and that the viewer may read."""
    g.viewer = None
    if request.endpoint == "web.static":
        return None
    if request.method == "POST":
        if not _same_origin():
            log.warning("refused a cross-site %s to %s", request.method, request.path)
            raise Forbidden("This form was sent from another site; open the page on this "
                            "collector and send it from there.")
        sent = request.form.get("csrf", "")
        if sign_in_possible() and not hmac.compare_digest(sent.encode(), form_token().encode()):
            raise BadRequest("This form has expired or your browser did not send its "
                             "cookie: reload the page, allow cookies for this site, and "
                             "send it again.")
    if not _keyring() or request.endpoint in OPEN:
        return None
    g.viewer = current_grant()
    if g.viewer is None:
        wanted = request.full_path if request.query_string else request.path
        return redirect(url_for("web.signin", next=wanted))
    return None


@blueprint.route("/signin", methods=["GET", "POST"])
def signin() -> Any:
    """The sign-in form; POST checks the token and starts a session."""
    keyring = _keyring()
    target = _safe_next(request.values.get("next"))
    if not keyring:
        return redirect(target)  # open pages: nothing to sign in to
    if not sign_in_possible():
        return render_template("signin.html", next=target, status=503,
                               error="Sign-in is off: this collector has no web secret. "
                                     "Start it with thinkt collect, which makes one in "
                                     "its state directory."), 503
    if request.method == "GET":
        if current_grant() is not None:
            return redirect(target)
        notice = "You are signed out." if request.args.get("out") else None
        return render_template("signin.html", next=target, notice=notice)
    presented = (request.form.get("token") or "").strip()
    found = keyring.find(presented) if presented else None
    if found is None:
        log.info("web sign-in refused from %s: unknown token", request.remote_addr)
        return render_template("signin.html", next=target,
                               error="This is not a token of this collector."), 401
    if not found.allows(auth.READ):
        log.info("web sign-in refused for %s from %s: no read role", found.label,
                 request.remote_addr)
        roles = ", ".join(sorted(found.roles)) or "none"
        return render_template(
            "signin.html", next=target,
            error=f"This token may not read (its roles: {roles}). The pages need a token "
                  f"with the read role, e.g. a line 'TOKEN read name=you' in the "
                  f"collector's token file."), 403
    session.clear()
    session.permanent = True
    session.update(fp=keyring.fingerprint(presented), sid=secrets.token_urlsafe(16),
                   at=int(time.time()), csrf=secrets.token_urlsafe(24))
    log.info("web sign-in by %s from %s", found.label, request.remote_addr)
    return redirect(target)


@blueprint.post("/signout")
def signout() -> Any:
    """End this browser's session, here and for any copy of its cookie."""
    session_id, since = session.get("sid"), session.get("at")
    if isinstance(session_id, str) and isinstance(since, (int, float)):
        _signed_out().add(session_id, since + SESSION_LIFETIME.total_seconds() + 60)
        if g.viewer is not None:
            log.info("web sign-out by %s", g.viewer.label)
    session.clear()
    return redirect(url_for("web.signin", out=1))
