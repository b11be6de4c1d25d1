"""The one place engines start external tools.

Tools run from an argv list (never a shell), in their own process group, with an explicit
minimal environment. Secrets reach them only through 0600 files in the run's temp dir, which
``secret_file`` removes again. stderr is kept as a bounded tail for errors and metadata.
"""

from __future__ import annotations

import fcntl
import os
import secrets as _secrets
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from datasources.engines.base import BackupResult, EngineError, TransientEngineError
from datasources.engines.tools import Tool

STDERR_TAIL_BYTES = 16 * 1024
KILL_GRACE_SECONDS = 5.0
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MASK = "********"

# Linux's default pipe holds 64 KiB: while the pipeline compresses one 1 MiB read, the tool
# fills that and stops, so dumping and compressing take turns on a two-core host instead of
# overlapping. A pipe the size of one read lets the tool run ahead by a whole piece. Linux
# caps it at /proc/sys/fs/pipe-max-size (1 MiB by default); elsewhere the default stays.
PIPE_SIZE = 1024 * 1024
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)

# Lower-case fragments of tool / driver messages that mean "try again later".
TRANSIENT_MARKERS = (
    "connection refused",
    "could not connect",
    "can't connect",
    "timeout",
    "timed out",
    "the database system is starting up",
    "the database system is shutting down",
    "lost connection",
    "server has gone away",
    "too many connections",
)


def tool_env(temp_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment a tool gets: nothing inherited but PATH, no secrets."""
    env = {
        "PATH": os.environ.get("PATH") or DEFAULT_PATH,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(temp_dir),
    }
    env.update(extra or {})
    return env


def tool_path(tool: Tool) -> str:
    """Where ``tool`` is on this worker; ``EngineError`` naming its package when it is not."""
    found = tool.find()
    if found is None:
        raise EngineError(tool.missing_message())
    return found


def mask(text: str, secrets: Sequence[str]) -> str:
    """Replace every secret in ``text``; they should never be there, this is the net."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def widen_pipe(fd: int) -> None:
    """Grow a pipe's kernel buffer to ``PIPE_SIZE`` where the system allows (see above)."""
    with suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)


def engine_error(message: str, secrets: Sequence[str] = ()) -> EngineError:
    """An ``EngineError`` with the secrets masked, transient when the message says so."""
    masked = mask(message, secrets)
    lowered = masked.lower()
    if any(marker in lowered for marker in TRANSIENT_MARKERS):
        return TransientEngineError(masked)
    return EngineError(masked)


@contextmanager
def secret_file(temp_dir: Path, prefix: str, content: str) -> Iterator[Path]:
    """A file only the owner can read, holding ``content``, removed when the context exits."""
    path = temp_dir / f"{prefix}-{_secrets.token_hex(8)}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        yield path
    finally:
        path.unlink(missing_ok=True)


class OutputTail(threading.Thread):
    """Drains a pipe so the tool never blocks on it, keeping only the last bytes (a pipe
    closed under it ends the thread)."""

    def __init__(self, pipe: IO[bytes], limit: int = STDERR_TAIL_BYTES) -> None:
        super().__init__(daemon=True)
        self._pipe = pipe
        self._limit = limit
        self._buffer = bytearray()

    def run(self) -> None:
        with self._pipe, suppress(OSError, ValueError):
            while chunk := os.read(self._pipe.fileno(), 65536):
                self._buffer += chunk
                if len(self._buffer) > self._limit:
                    del self._buffer[: len(self._buffer) - self._limit]

    def text(self) -> str:
        return self._buffer.decode("utf-8", errors="replace").strip()


class ToolProcess:
    """A started tool: its stdout (when piped), its stderr tail, wait/check and abort."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        secrets: Sequence[str] = (),
        pipe_stdout: bool = True,
        cwd: Path | None = None,
    ) -> None:
        self.tool = Path(argv[0]).name
        self._secrets = tuple(secrets)
        self._aborted = False
        try:
            self._proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipe_stdout else subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
                close_fds=True,
            )
        except FileNotFoundError:
            raise EngineError(f"{self.tool} is not installed on this worker.") from None
        if self._proc.stdout is not None:
            widen_pipe(self._proc.stdout.fileno())
        assert self._proc.stderr is not None
        self._tail = OutputTail(self._proc.stderr)
        self._tail.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def stdout(self) -> IO[bytes]:
        if self._proc.stdout is None:
            raise EngineError(f"{self.tool} has no piped output.")
        return self._proc.stdout

    def stderr_tail(self) -> str:
        return mask(self._tail.text(), self._secrets)

    def wait(self) -> int:
        returncode = self._proc.wait()
        self._tail.join()
        return returncode

    def check(self) -> None:
        """Wait for the tool; raise ``EngineError`` unless it exited 0."""
        returncode = self.wait()
        if self._aborted:
            raise EngineError(f"{self.tool} was aborted.")
        if returncode == 0:
            return
        how = (
            f"was killed by signal {-returncode}"
            if returncode < 0
            else f"exited with status {returncode}"
        )
        tail = self._tail.text()
        message = f"{self.tool} {how}: {tail}" if tail else f"{self.tool} {how}."
        raise engine_error(message, self._secrets)

    def terminate(self) -> None:
        """SIGTERM the whole process group, SIGKILL it after a grace period."""
        if self._proc.returncode is None and self._proc.poll() is None:
            self._aborted = True
            self._signal_group(signal.SIGTERM)
            try:
                self._proc.wait(timeout=KILL_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self._proc.wait()

    def abort(self) -> None:
        """Stop the tool (see ``terminate``) and release its pipes. Idempotent."""
        self.terminate()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._tail.join(timeout=KILL_GRACE_SECONDS)

    def _signal_group(self, signum: signal.Signals) -> None:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signum)


class ProcessStream:
    """A ``BackupStream`` over a tool's stdout; ``on_success`` builds the result from the
    stderr tail once the tool exited 0."""

    def __init__(self, process: ToolProcess, on_success: Callable[[str], BackupResult]) -> None:
        self.process = process
        self._on_success = on_success

    @property
    def pid(self) -> int:
        return self.process.pid

    def read(self, size: int = -1, /) -> bytes:
        return self.process.stdout.read(size)

    def finish(self) -> BackupResult:
        self.process.check()
        return self._on_success(self.process.stderr_tail())

    def abort(self) -> None:
        self.process.abort()


def run_tool(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    secrets: Sequence[str] = (),
    timeout: float = 120.0,
) -> str:
    """Run a short tool (a version query, a catalogue query) and return its stdout."""
    process = ToolProcess(argv, env, secrets=secrets)
    # Only signal from the timer thread; closing the pipe under a reader is the caller's job.
    timer = threading.Timer(timeout, process.terminate)
    timer.start()
    try:
        output = process.stdout.read()
        returncode = process.wait()
    finally:
        timer.cancel()
        process.abort()
    if returncode != 0:
        tail = process.stderr_tail()
        if returncode < 0:
            raise engine_error(f"{process.tool} timed out after {timeout:g}s: {tail}", secrets)
        raise engine_error(f"{process.tool} exited with status {returncode}: {tail}", secrets)
    return output.decode("utf-8", errors="replace")


# --- Restore: tools fed through stdin -------------------------------------------------------

FEED_CHUNK_BYTES = 1024 * 1024


def feed_tool(
    argv: Sequence[str],
    env: Mapping[str, str],
    read: Callable[[int], bytes],
    *,
    secrets: Sequence[str] = (),
) -> str:
    """Run a tool that reads its input on stdin (``pg_restore``, ``mariadb``), writing
    everything ``read`` yields into it, and return the tool's stderr tail.

    The tool runs like every other one here (argv, own process group, explicit environment,
    bounded stderr). If ``read`` raises (a chunk changed since it was verified, a cancel), the
    tool is stopped before it sees the end of its input, so it never commits a cut-short
    restore as if it were whole, and the error propagates. A tool that exits early (broken
    pipe) or non-zero raises ``EngineError`` with its masked stderr tail.
    """
    tool = Path(argv[0]).name
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=dict(env),
            start_new_session=True,
            close_fds=True,
        )
    except FileNotFoundError:
        raise EngineError(f"{tool} is not installed on this worker.") from None
    assert proc.stdin is not None
    assert proc.stderr is not None
    widen_pipe(proc.stdin.fileno())
    tail = OutputTail(proc.stderr)
    tail.start()
    broken = False
    try:
        while data := read(FEED_CHUNK_BYTES):
            try:
                proc.stdin.write(data)
            except BrokenPipeError:
                broken = True
                break
        with suppress(BrokenPipeError):
            proc.stdin.close()
    except BaseException:
        _stop_group(proc)
        with suppress(OSError):
            proc.stdin.close()
        tail.join(timeout=KILL_GRACE_SECONDS)
        raise
    returncode = proc.wait()
    tail.join()
    if returncode == 0 and not broken:
        return mask(tail.text(), secrets)
    how = f"exited with status {returncode}" if returncode else "stopped reading its input"
    text = tail.text()
    raise engine_error(f"{tool} {how}: {text}" if text else f"{tool} {how}.", secrets)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM a tool's process group, SIGKILL it after the grace period."""
    if proc.poll() is not None:
        return
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=KILL_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
