"""The browser tests' helpers: a DataGuardian started as an operator starts it (``manage.py run
all``) on a database, a Redis database and a data directory of its own; a watch over what a
page loads and logs; screenshots at the two widths; and the copies the user guide shows.

Chromium is Debian's (``/usr/bin/chromium``): Playwright's own browser download needs the
internet. Playwright starts Chromium with ``--no-sandbox`` unless asked for the sandbox
(``chromium_sandbox=True``), and the tests keep it that way on purpose: Chromium refuses to
start sandboxed as root ("Running as root without --no-sandbox is not supported"), which is
how CI and the development containers run. The pages come from the local server only, so the
sandbox guards nothing here that the tests would miss.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    Route,
    ViewportSize,
)

from tests.support.databases import pg_exec
from tests.support.processes import (
    ROOT,
    child_env,
    descendant_pids,
    free_port,
    kill_survivors,
    remember,
    wait_for_health,
)

CHROMIUM = "/usr/bin/chromium"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})

#: Where screenshots go (``<dir>/screenshots/<width>/<name>.png``); relative to the checkout.
ARTIFACTS_ENV = "DATAGUARDIAN_TEST_ARTIFACTS"
DEFAULT_ARTIFACTS = "data/test-artifacts"
#: Set to 1 to copy the user guide's screenshots to docs/images/ as the tests take them.
UPDATE_DOCS_ENV = "DATAGUARDIAN_UPDATE_DOCS_IMAGES"
DOCS_IMAGES = ROOT / "docs" / "images"
#: Overrides the Redis database of the browser tests' server (default: derived, see below).
REDIS_ENV = "DATAGUARDIAN_BROWSER_REDIS_URL"

ADMIN_USERNAME = "operator"
ADMIN_PASSWORD = "Browser-Test-Pw-4e1d7a"
READY = "DataGuardian is ready."


def artifacts_dir() -> Path:
    path = Path(os.environ.get(ARTIFACTS_ENV) or DEFAULT_ARTIFACTS)
    return path if path.is_absolute() else ROOT / path


def screenshot_path(width: int, name: str) -> Path:
    return artifacts_dir() / "screenshots" / str(width) / f"{name}.png"


def shoot(page: Page, name: str, docs_name: str | None = None) -> Path:
    """Save what ``page`` shows (its viewport) as ``<width>/<name>.png``; with
    ``DATAGUARDIAN_UPDATE_DOCS_IMAGES=1`` and a ``docs_name``, also as
    ``docs/images/<docs_name>.png``, the user guide's copy."""
    viewport = page.viewport_size
    assert viewport is not None
    path = screenshot_path(viewport["width"], name)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    if docs_name and os.environ.get(UPDATE_DOCS_ENV) == "1":
        copy_to_docs(path, docs_name)
    return path


def copy_to_docs(source: Path, docs_name: str) -> Path:
    """Copy a screenshot into docs/images/, through pngquant when it is installed."""
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    target = DOCS_IMAGES / f"{docs_name}.png"
    pngquant = shutil.which("pngquant")
    if pngquant:
        subprocess.run(
            [pngquant, "--force", "--skip-if-larger", "--output", str(target), str(source)],
            check=False,
        )
    if not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
        shutil.copyfile(source, target)
    return target


def settle(page: Page) -> None:
    """Wait until the page's fonts are in and it has painted a frame (after a resize, say)."""
    page.evaluate(
        "() => document.fonts.ready.then("
        "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done))))"
    )


def focused(page: Page) -> dict[str, str]:
    """What has the keyboard focus: tag, id, name, type, href, value and text."""
    found: dict[str, str] = page.evaluate(
        """() => {
            const e = document.activeElement || document.body;
            const attr = name => e.getAttribute(name) || "";
            return {tag: e.tagName.toLowerCase(), id: e.id, name: attr("name"),
                    type: attr("type"), href: attr("href"), value: e.value || "",
                    text: (e.innerText || "").trim().slice(0, 60)};
        }"""
    )
    return found


def tab_until(
    page: Page, wanted: Callable[[dict[str, str]], bool], limit: int = 80
) -> list[dict[str, str]]:
    """Press Tab until the focused element is ``wanted`` (at most ``limit`` times); every
    element focused on the way, the wanted one last. Fails naming them if it never is."""
    seen: list[dict[str, str]] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(focused(page))
        if wanted(seen[-1]):
            return seen
    raise AssertionError(f"not reached with {limit} Tabs; focused on the way: {seen}")


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0: no sideways scrolling)."""
    overflow: int = page.evaluate(
        "() => Math.max(0, document.documentElement.scrollWidth - window.innerWidth)"
    )
    return overflow


# --- what a page loads and logs ------------------------------------------------------------


@dataclass
class Watch:
    """Every request of a browser context that leaves the loopback server (aborted, recorded),
    every request that is not plain http to the server itself (mixed content), and every
    console error and uncaught exception of its pages."""

    origin: str
    outside: list[str] = field(default_factory=list)
    insecure: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.route("**/*", self._route)
        context.on("request", self._request)
        context.on("response", self._response)
        context.on("page", self.watch_page)
        for page in context.pages:
            self.watch_page(page)

    def watch_page(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))

    def _route(self, route: Route) -> None:
        host = urllib.parse.urlsplit(route.request.url).hostname or ""
        if host in LOOPBACK_HOSTS:
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort("blockedbyclient")

    def _request(self, request: Request) -> None:
        url = request.url
        if url.startswith(("data:", "blob:", "about:")):
            return
        if not url.startswith(self.origin + "/"):
            self.insecure.append(url)

    def _response(self, response: Response) -> None:
        # A page's own status is the test's to check; a script, style, font or icon that the
        # server does not have is a broken page whatever the page's status.
        if response.status >= 400 and response.request.resource_type != "document":
            self.missing.append(f"{response.status} {response.url}")

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            self.console_errors.append(f"{message.text} ({where})")

    def reset(self) -> None:
        for found in (
            self.outside,
            self.insecure,
            self.console_errors,
            self.page_errors,
            self.missing,
        ):
            found.clear()

    def problems(self) -> dict[str, list[str]]:
        """What went wrong, by kind; empty when nothing did."""
        found = {
            "requests outside the loopback server": self.outside,
            "requests other than http to the server (mixed content)": self.insecure,
            "console errors": self.console_errors,
            "uncaught page errors": self.page_errors,
            "resources the server answered with an error": self.missing,
        }
        return {kind: list(items) for kind, items in found.items() if items}


# --- the server ----------------------------------------------------------------------------


def browser_redis_url() -> str:
    """The Redis database of the browser tests' server: ``DATAGUARDIAN_BROWSER_REDIS_URL``, or
    the test Redis URL's database number with its top bit flipped (15, the suite's, gives 7),
    so it never shares a queue with the suite's own workers."""
    if os.environ.get(REDIS_ENV):
        return os.environ[REDIS_ENV]
    parts = urllib.parse.urlsplit(os.environ["REDIS_URL"])
    number = int(parts.path.strip("/") or 0)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{number ^ 8}"))


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


@dataclass
class Server:
    """A running ``manage.py run all`` and how to reach it."""

    url: str
    database: str
    data_dir: Path
    log_path: Path
    username: str = ADMIN_USERNAME
    password: str = ADMIN_PASSWORD
    token: str = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the REST API with the admin's token; the decoded answer (fails on >= 400)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 (http, loopback)
            f"{self.url}{path}", data=data, method=method
        )
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise AssertionError(
                f"{method} {path} answered {exc.code}: {exc.read().decode(errors='replace')}"
            ) from exc
        return json.loads(raw) if raw else None

    def wait_for_execution(self, execution_id: str, timeout: float = 90) -> dict[str, Any]:
        """Poll the API until the execution has finished; its last state."""
        deadline = time.monotonic() + timeout
        while True:
            execution: dict[str, Any] = self.api("GET", f"/api/executions/{execution_id}")
            if execution["status"] not in ("queued", "running"):
                return execution
            assert time.monotonic() < deadline, f"still {execution['status']}:\n{self.log()}"
            time.sleep(0.5)


@contextlib.contextmanager
def running_server(workdir: Path) -> Iterator[Server]:
    """Start ``manage.py run all`` in server mode on a fresh PostgreSQL database (dropped at
    the end), the browser tests' Redis database, a data directory under ``workdir`` and a free
    loopback port; wait until every process is up; stop it with SIGTERM at the end."""
    database = f"dgbrowser_{secrets.token_hex(4)}"
    redis_url = browser_redis_url()
    port = free_port()
    data_dir = workdir / "data"
    log_path = workdir / "run.log"
    pg_exec(f"CREATE DATABASE {database}")
    flush_redis(redis_url)
    env = child_env(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{database}",
        REDIS_URL=redis_url,
        DATAGUARDIAN_DATA_DIR=str(data_dir),
        DATAGUARDIAN_BIND=f"127.0.0.1:{port}",
        DATAGUARDIAN_WEB_WORKERS="2",
        DATAGUARDIAN_ADMIN_USERNAME=ADMIN_USERNAME,
        DATAGUARDIAN_ADMIN_PASSWORD=ADMIN_PASSWORD,
        DJANGO_SETTINGS_MODULE="dataguardian.settings",
        LOG_FORMAT="text",
    )
    for name in ("DEBUG", "DATABASE_CONN_MAX_AGE", "DATAGUARDIAN_PUBLIC_URL"):
        env.pop(name, None)
    seen: dict[int, int] = {}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "run", "all"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", database, data_dir, log_path)
    try:
        wait_for_health(proc, port, seen, server.log, timeout=120)
        deadline = time.monotonic() + 90
        while READY not in server.log():  # the workers and beat are up too
            assert proc.poll() is None, f"run exited ({proc.returncode}):\n{server.log()}"
            assert time.monotonic() < deadline, f"not ready within 90 s:\n{server.log()}"
            remember(seen, descendant_pids(proc.pid))
            time.sleep(0.25)
        remember(seen, descendant_pids(proc.pid))
        answer = server.api(
            "POST", "/api/auth/token", {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
        )
        server.token = answer["token"]
        yield server
    finally:
        if proc.poll() is None:
            remember(seen, descendant_pids(proc.pid))
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        kill_survivors(seen)
        pg_exec(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        flush_redis(redis_url)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
