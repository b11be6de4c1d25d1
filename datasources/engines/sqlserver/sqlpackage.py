"""Running ``sqlpackage``: the response file that carries the password, the version, and a
run whose output is kept as a bounded tail.

The parameters go in a response file (``sqlpackage @file``), the command-line convention of
.NET tools, so the password is written to a 0600 file in the run's temp dir
(``secret_file``) and argv holds only ``@<path>``. The file holds one parameter per line; a
value with spaces is quoted. Microsoft's sqlpackage pages do not describe the form, which
docs/ENGINES.md says.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from datasources.engines.base import DatabaseConnection, EngineError
from datasources.engines.process import (
    STDERR_TAIL_BYTES,
    OutputTail,
    ToolProcess,
    engine_error,
    mask,
    run_tool,
    secret_file,
    tool_env,
)
from datasources.engines.tools import Tool

SQLPACKAGE = Tool(
    ("sqlpackage",),
    "sqlpackage (Microsoft DacFx, https://aka.ms/sqlpackage-linux)",
    "SQL Server backups and restores",
    search_dirs=("/opt/sqlpackage",),
)
VERSION_TIMEOUT_SECONDS = 60.0
_FORBIDDEN = ('"', "\n", "\r", "\0")


def sqlpackage_env(temp_dir: Path) -> dict[str, str]:
    """``tool_env`` plus what the .NET runtime of sqlpackage needs to stay quiet and local:
    no telemetry, no first-run banner, its scratch files in the run's temp dir."""
    return tool_env(
        temp_dir,
        {
            "DOTNET_CLI_TELEMETRY_OPTOUT": "1",
            "DOTNET_NOLOGO": "1",
            "DOTNET_SKIP_FIRST_TIME_EXPERIENCE": "1",
            "TMPDIR": str(temp_dir),
        },
    )


def tool_version(sqlpackage: str, temp_dir: Path) -> str:
    """``sqlpackage /Version``: the build number (``170.2.70.1``)."""
    output = run_tool(
        [sqlpackage, "/Version"], sqlpackage_env(temp_dir), timeout=VERSION_TIMEOUT_SECONDS
    )
    return f"sqlpackage {output.strip()}".strip()


def server_name(connection: DatabaseConnection) -> str:
    """The ``/SourceServerName`` / ``/TargetServerName`` value: TCP to ``host,port``."""
    return f"tcp:{connection.host},{connection.port}"


def _argument(name: str, value: str) -> str:
    if any(character in value for character in _FORBIDDEN):
        what = "The password" if "Password" in name else f"The value of {name}"
        raise EngineError(
            f"{what} contains a double quote or a line break, which cannot be passed to "
            "sqlpackage through its response file."
        )
    argument = f"/{name}:{value}"
    return f'"{argument}"' if any(c.isspace() for c in argument) else argument


def response_file(parameters: Sequence[tuple[str, str]]) -> str:
    """The response file's text: one ``/Name:value`` parameter per line (``p:Name=value``
    for a property)."""
    return "".join(_argument(name, value) + "\n" for name, value in parameters)


def connection_parameters(
    side: str, connection: DatabaseConnection, *, trust_certificate: bool = False
) -> list[tuple[str, str]]:
    """The parameters naming the server and the login of the ``Source`` or ``Target``
    database. Without ``ssl_enabled`` the connection is not encrypted (sqlpackage 170
    encrypts by default and would refuse a server without a trusted certificate);
    ``trust_certificate`` accepts a self-signed one."""
    return [
        (f"{side}ServerName", server_name(connection)),
        (f"{side}DatabaseName", connection.database),
        (f"{side}User", connection.username),
        (f"{side}Password", connection.password),
        (f"{side}EncryptConnection", "True" if connection.ssl_enabled else "False"),
        (f"{side}TrustServerCertificate", "True" if trust_certificate else "False"),
        (f"{side}Timeout", "30"),
    ]


class SqlPackageRun:
    """A started ``sqlpackage @<response file>``: wait for it, stop it, read its output."""

    def __init__(self, sqlpackage: str, rsp: Path, temp_dir: Path, secrets: Sequence[str]):
        self._secrets = list(secrets)
        self._rsp = rsp
        self.process = ToolProcess(
            [sqlpackage, f"@{rsp}"], sqlpackage_env(temp_dir), secrets=secrets
        )
        # sqlpackage's progress and most of its errors go to stdout.
        self._stdout = OutputTail(self.process.stdout)
        self._stdout.start()
        self._returncode: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        """The masked tail of stdout and stderr."""
        text = "\n".join(t for t in (self._stdout.text(), self.process.stderr_tail()) if t)
        return mask(text, self._secrets)[-STDERR_TAIL_BYTES:]

    def wait(self) -> int:
        if self._returncode is None:
            self._returncode = self.process.wait()
            self._stdout.join()
        return self._returncode

    def check(self, action: str) -> str:
        """Wait for the run; return its output, or raise ``EngineError`` with its tail."""
        returncode = self.wait()
        # sqlpackage read its parameters long ago: the password need not outlive the run.
        self._rsp.unlink(missing_ok=True)
        output = self.output()
        if returncode == 0:
            return output
        how = (
            f"was killed by signal {-returncode}"
            if returncode < 0
            else f"exited with status {returncode}"
        )
        message = f"sqlpackage {action} {how}"
        raise engine_error(f"{message}: {output}" if output else f"{message}.", self._secrets)

    def abort(self) -> None:
        """Stop sqlpackage if it still runs (idempotent); its output is drained first so
        the pipe is closed under no reader."""
        self.process.terminate()
        self._stdout.join(timeout=5)
        self.process.abort()


@contextmanager
def started(
    sqlpackage: str,
    temp_dir: Path,
    parameters: Sequence[tuple[str, str]],
    secrets: Sequence[str],
) -> Iterator[SqlPackageRun]:
    """sqlpackage running with ``parameters`` in a 0600 response file; the run is stopped
    (if still running) and the file removed when the context exits."""
    with secret_file(temp_dir, "sqlpackage.rsp", response_file(parameters)) as rsp:
        run = SqlPackageRun(sqlpackage, rsp, temp_dir, secrets)
        try:
            yield run
        finally:
            run.abort()


def run_to_end(
    sqlpackage: str,
    temp_dir: Path,
    parameters: Sequence[tuple[str, str]],
    secrets: Sequence[str],
    action: str,
) -> str:
    """Run sqlpackage to its end and return its output tail."""
    with started(sqlpackage, temp_dir, parameters, secrets) as run:
        return run.check(action)


def properties(values: Mapping[str, str]) -> list[tuple[str, str]]:
    """``/p:Name=value`` properties as response-file parameters."""
    return [("p", f"{name}={value}") for name, value in values.items()]
