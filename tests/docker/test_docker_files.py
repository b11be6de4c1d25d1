"""docker/Dockerfile, docker/docker-compose.yml, docker/.env.example and .dockerignore.

No Docker engine runs where the tests run, so the files are parsed and their properties checked:
what would make a build fail (a COPY of a missing or ignored file, an unpinned install), what
would make the stack misbehave (a queue nobody consumes, two beats, a healthcheck that cannot
pass) and what would leak (literal secrets, a root process). No database is needed.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.queues import QUEUES

REPO = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO / "docker"
COMPOSE_FILE = DOCKER_DIR / "docker-compose.yml"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
ENV_EXAMPLE = DOCKER_DIR / ".env.example"
DOCKERIGNORE = REPO / ".dockerignore"
FLOWER_REQUIREMENTS = DOCKER_DIR / "requirements-flower.txt"
LOCK = REPO / "requirements.lock"
DEV_LOCK = REPO / "requirements-dev.lock"
# Development-only packages: in requirements-dev.lock, never in the image's requirements.lock.
DEV_TOOLS = {
    "pytest",
    "pytest-django",
    "factory-boy",
    "ruff",
    "mypy",
    "django-stubs",
    "djangorestframework-stubs",
    "celery-types",
    "moto",
    "hypothesis",
    "schemathesis",
    "import-linter",
    "aiosmtpd",
    "setuptools",
}

INFRA_SERVICES = {"postgres", "redis"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|AUTH|TOKEN")
# A required reference: ${VAR}, ${VAR:?message} or ${VAR?message}; never ${VAR:-default}.
REQUIRED_REF = re.compile(r"\$\{[A-Z][A-Z0-9_]*(:?\?[^}]*)?\}")
ROOT_USERS = {"root", "0", "root:root", "0:0", "root:0", "0:root"}
INSTALL_RUN = re.compile(r"\b(apt-get|apt|dpkg|pip|pip3)\b")


# --- Dockerfile parsing ----------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int

    def flags(self) -> dict[str, str]:
        """``--name=value`` options at the start of the arguments (COPY --from, HEALTHCHECK ...)."""
        found: dict[str, str] = {}
        for token in shlex.split(self.args):
            if not token.startswith("--"):
                break
            name, _, value = token[2:].partition("=")
            found[name] = value
        return found

    def operands(self) -> list[str]:
        """The arguments after the leading ``--flags``, exec (JSON) form or shell words."""
        rest = self.args
        while rest.startswith("--"):
            rest = rest.split(None, 1)[1] if " " in rest else ""
        prefix: list[str] = []
        if self.keyword == "HEALTHCHECK" and rest.upper().startswith("CMD "):
            prefix, rest = ["CMD"], rest[4:].lstrip()
        if rest.startswith("["):
            value = json.loads(rest)
            assert isinstance(value, list)
            return prefix + [str(v) for v in value]
        return prefix + shlex.split(rest)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped, as Docker reads them."""
    instructions: list[Instruction] = []
    buffer = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # blank lines and comments, also inside a continuation
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer += line[:-1].rstrip() + " "
            continue
        buffer += line
        keyword, _, args = buffer.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
        buffer = ""
    assert not buffer, "the Dockerfile ends inside a line continuation"
    return instructions


def global_args(instructions: list[Instruction]) -> dict[str, str]:
    """ARGs declared before the first FROM (the only ones FROM lines can use), with defaults."""
    values: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword == "FROM":
            break
        if instruction.keyword == "ARG":
            name, _, default = instruction.args.partition("=")
            values[name.strip()] = default.strip().strip('"')
    return values


def expand(value: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in variables, f"{name} is used in FROM without a default"
        return variables[name]

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", replace, value)


def split_stages(instructions: list[Instruction]) -> list[Stage]:
    variables = global_args(instructions)
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            words = [w for w in instruction.args.split() if not w.startswith("--platform")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(expand(words[0], variables), name))
        elif stages:
            stages[-1].instructions.append(instruction)
    return stages


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def stages(dockerfile: list[Instruction]) -> list[Stage]:
    found = split_stages(dockerfile)
    assert found, "the Dockerfile has no FROM"
    return found


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    """The stage `docker build` produces without --target: the image compose runs."""
    return stages[-1]


# --- .dockerignore ---------------------------------------------------------------------------


def dockerignore_patterns() -> list[str]:
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _pattern_matches(pattern: str, path: str) -> bool:
    pattern = pattern.strip("/")
    if "**" in pattern:
        regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        return re.fullmatch(regex, path) is not None
    return fnmatch.fnmatchcase(path, pattern)


def is_ignored(path: str) -> bool:
    """Whether the build context leaves ``path`` out (a pattern matching a parent directory
    excludes everything below it; the last matching pattern wins, ``!`` re-includes)."""
    parts = Path(path).parts
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for pattern in dockerignore_patterns():
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        if any(_pattern_matches(body, prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


# --- compose parsing -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    assert isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


@pytest.fixture(scope="module")
def app_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in services.items() if name not in INFRA_SERVICES}


def argv(command: str | list[str] | None) -> list[str]:
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


CELERY_OPTIONS = {
    "-A": "app",
    "--app": "app",
    "-Q": "queues",
    "--queues": "queues",
    "-c": "concurrency",
    "--concurrency": "concurrency",
    "-P": "pool",
    "--pool": "pool",
    "-n": "hostname",
    "--hostname": "hostname",
    "-S": "scheduler",
    "--scheduler": "scheduler",
}


def celery_options(words: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("--") and "=" in word:
            name, value = word.split("=", 1)
            if name in CELERY_OPTIONS:
                options[CELERY_OPTIONS[name]] = value
        elif word in CELERY_OPTIONS:
            options[CELERY_OPTIONS[word]] = words[index + 1]
            index += 1
        elif word in ("-B", "--beat"):
            options["embedded_beat"] = "yes"
        index += 1
    return options


def celery_role(service: dict[str, Any]) -> str | None:
    words = argv(service.get("command"))
    if not words or words[0] != "celery":
        return None
    return next((w for w in words if w in ("worker", "beat", "flower")), None)


def workers(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {
        name: celery_options(argv(svc.get("command")))
        for name, svc in services.items()
        if celery_role(svc) == "worker"
    }


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def healthcheck_enabled(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck")
    if not check or check.get("disable"):
        return False
    return argv(check.get("test"))[:1] != ["NONE"]


def python_code(test: list[str]) -> str:
    assert "python" in test, f"not a python healthcheck: {test}"
    return test[test.index("-c") + 1]


# === compose =================================================================================


def test_the_compose_file_parses_with_the_required_services(services):
    for name in ("postgres", "redis", "web", "beat", "flower"):
        assert name in services, f"service {name} is missing"
    assert workers(services), "no Celery worker service"


def test_workers_consume_every_queue_with_the_declared_concurrency_and_pool(services):
    consumers: dict[str, list[str]] = {}
    for name, options in workers(services).items():
        assert options.get("app") == "dataguardian", f"{name}: not `celery -A dataguardian`"
        queues = [q for q in options.get("queues", "").split(",") if q]
        assert queues, f"{name} names no queue (-Q); it would consume only the default queue"
        for queue in queues:
            assert queue in QUEUES, f"{name} consumes {queue!r}, not a queue in queues.py"
            policy = QUEUES[queue]
            assert int(options["concurrency"]) == policy.concurrency, (
                f"{name}: -c {options['concurrency']} but queue {queue} declares "
                f"concurrency {policy.concurrency}"
            )
            assert options.get("pool") == policy.pool, (
                f"{name}: pool {options.get('pool')} but queue {queue} declares {policy.pool}"
            )
            consumers.setdefault(queue, []).append(name)
    for queue in QUEUES:
        assert consumers.get(queue), f"no worker consumes queue {queue!r}"
        # A second service on the same queue would double the declared concurrency.
        assert len(consumers[queue]) == 1, f"{queue} is consumed by {consumers[queue]}"


def test_worker_node_names_are_unique_per_host(services):
    names = [options.get("hostname", "") for options in workers(services).values()]
    assert all("@%h" in name for name in names), names
    assert len(set(names)) == len(names), f"two workers share a node name: {names}"


def test_every_app_service_builds_the_one_image_from_the_repository_root(app_services):
    assert {"web", "beat", "flower"} <= set(app_services)
    for name, svc in app_services.items():
        build = svc.get("build")
        assert isinstance(build, dict), f"{name} does not build the DataGuardian image"
        assert build.get("context") == "..", name
        assert build.get("dockerfile") == "docker/Dockerfile", name
        context = (COMPOSE_FILE.parent / build["context"]).resolve()
        assert (context / "manage.py").is_file(), f"{name}: build context {context} is not the repo"
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE.resolve()
        assert "image" not in svc or ":" in svc["image"], name


def test_app_services_wait_for_a_healthy_database_and_broker(services, app_services):
    for name, svc in app_services.items():
        depends = svc.get("depends_on")
        assert isinstance(depends, dict), f"{name}: depends_on must name conditions"
        for dependency in ("postgres", "redis"):
            assert depends.get(dependency, {}).get("condition") == "service_healthy", (
                f"{name} does not wait for {dependency} to be healthy"
            )
    # Compose refuses `service_healthy` on a service that has no healthcheck.
    for name, svc in services.items():
        for dependency, spec in (svc.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if spec.get("condition") == "service_healthy":
                assert healthcheck_enabled(services[dependency]), (
                    f"{name} waits for {dependency} to be healthy, which has no healthcheck"
                )


def test_postgres_redis_and_web_have_meaningful_healthchecks(services):
    assert healthcheck_enabled(services["postgres"])
    assert "pg_isready" in " ".join(argv(services["postgres"]["healthcheck"]["test"]))
    redis_test = argv(services["redis"]["healthcheck"]["test"])
    assert "redis-cli" in " ".join(redis_test)
    assert "ping" in redis_test
    web_test = argv(services["web"]["healthcheck"]["test"])
    assert "127.0.0.1:8000/health" in python_code(web_test)
    compile(python_code(web_test), "web-healthcheck", "exec")
    flower_test = services["flower"].get("healthcheck", {}).get("test")
    if flower_test:
        compile(python_code(argv(flower_test)), "flower-healthcheck", "exec")


def test_redis_persists_to_a_volume(services):
    redis = services["redis"]
    command = argv(redis.get("command"))
    assert "--appendonly" in command
    assert command[command.index("--appendonly") + 1] == "yes"
    assert "noeviction" in command, "an evicting broker silently drops tasks"
    targets = [str(v).split(":")[1] for v in redis.get("volumes", [])]
    assert "/data" in targets, "the append-only file must live on a volume"


def test_postgres_keeps_its_data_on_a_volume(services):
    targets = [str(v).split(":")[1] for v in services["postgres"].get("volumes", [])]
    assert "/var/lib/postgresql/data" in targets


def _all_environments(compose: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    blocks = {f"services.{name}": svc for name, svc in compose["services"].items()}
    blocks.update({key: value for key, value in compose.items() if key.startswith("x-")})
    for where, block in blocks.items():
        if isinstance(block, dict):
            for key, value in environment(block).items():
                yield where, key, value


def test_no_literal_secrets_in_the_compose_file(compose):
    checked = 0
    for where, key, value in _all_environments(compose):
        if SECRET_NAME.search(key):
            checked += 1
            assert REQUIRED_REF.fullmatch(value), (
                f"{where}: {key} must be a required ${{VAR:?...}} reference, not {value!r}"
            )
        for url in re.findall(r"[a-z][a-z0-9+]*://\S+", value):
            authority = url.split("://", 1)[1]
            userinfo = authority.rsplit("@", 1)[0] if "@" in authority else ""
            if ":" in userinfo:
                secret = userinfo.split(":", 1)[1]
                assert REQUIRED_REF.fullmatch(secret), f"{where}: {key} embeds a literal password"
    assert checked >= 4, "expected the secret variables to be found"


def test_env_example_documents_every_variable_and_holds_no_secret(compose):
    def strings(node: Any) -> Iterator[str]:
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for key, value in node.items():
                yield from strings(key)
                yield from strings(value)
        elif isinstance(node, list):
            for item in node:
                yield from strings(item)

    referenced = {
        name
        for text in strings(compose)
        for name in re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text.replace("$$", ""))
    }
    assert "POSTGRES_PASSWORD" in referenced
    documented: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            documented[key.strip()] = value.strip()
    missing = referenced - set(documented)
    assert not missing, f"docker/.env.example does not document {sorted(missing)}"
    for key, value in documented.items():
        if SECRET_NAME.search(key) and key not in {"DATAGUARDIAN_ADMIN_USERNAME"}:
            assert value == "", f".env.example gives {key} a value; users would keep it"


def test_every_named_volume_is_declared_and_used(compose):
    declared = set((compose.get("volumes") or {}).keys())
    used: set[str] = set()
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.get("source") if isinstance(volume, dict) else str(volume).split(":")[0]
            if source and not source.startswith((".", "/", "~", "$")):
                assert source in declared, f"{name} mounts undeclared volume {source}"
                used.add(source)
    assert declared == used, f"declared but unused volumes: {sorted(declared - used)}"


def test_app_services_share_data_and_backup_volumes_and_restart(app_services):
    for name, svc in app_services.items():
        mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in svc.get("volumes", [])}
        assert mounts.get("/data") == "data", name
        assert mounts.get("/backups") == "backups", name
        assert svc.get("restart") == "unless-stopped", name


def test_only_web_and_flower_publish_ports(services):
    published = {name for name, svc in services.items() if svc.get("ports")}
    assert published == {"web", "flower"}
    for name, port in (("web", "8000"), ("flower", "5555")):
        container_ports = [str(p).rsplit(":", 1)[-1] for p in services[name]["ports"]]
        assert container_ports == [port], f"{name} publishes {services[name]['ports']}"


def test_web_runs_the_web_role(services):
    assert argv(services["web"]["command"]) == ["python", "manage.py", "run", "web"]


def test_beat_is_a_single_instance(services):
    beats = [name for name, svc in services.items() if celery_role(svc) == "beat"]
    assert beats == ["beat"], f"exactly one beat service expected, found {beats}"
    beat = services["beat"]
    assert (beat.get("deploy") or {}).get("replicas", 1) == 1
    assert beat.get("scale", 1) == 1
    options = celery_options(argv(beat["command"]))
    assert options.get("scheduler") == "django_celery_beat.schedulers:DatabaseScheduler"
    for name, worker in workers(services).items():
        assert "embedded_beat" not in worker, f"{name} runs an embedded beat (-B): a second beat"
    for name, svc in services.items():
        if argv(svc.get("command"))[:3] == ["python", "manage.py", "run"]:
            assert argv(svc["command"])[3:4] == ["web"], f"{name} runs everything, beat included"


def test_flower_requires_basic_auth_from_the_environment(services):
    flower = services["flower"]
    assert celery_role(flower) == "flower"
    assert REQUIRED_REF.fullmatch(environment(flower).get("FLOWER_BASIC_AUTH", ""))


def test_connection_urls_point_at_compose_services(services, app_services):
    for name, svc in app_services.items():
        env = environment(svc)
        for key, scheme, port in (("DATABASE_URL", "postgres", 5432), ("REDIS_URL", "redis", 6379)):
            url = env.get(key, "")
            assert url.startswith(f"{scheme}://"), f"{name}: {key}={url!r}"
            host_port = url.rsplit("@", 1)[-1].split("://")[-1].split("/")[0]
            host, _, url_port = host_port.partition(":")
            assert host in services, f"{name}: {key} points at {host}, not a service"
            assert int(url_port or port) == port


def test_infrastructure_images_are_pinned(services):
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in INFRA_SERVICES:
        image = services[name]["image"]
        assert ":" in image
        assert not image.endswith(":latest"), name


# === Dockerfile ==============================================================================


def test_base_images_are_pinned(stages):
    names = {s.name for s in stages if s.name}
    for stage in stages:
        if stage.base in names:
            continue
        if "@sha256:" in stage.base:
            continue  # pinned by digest
        repository, _, tag = stage.base.rpartition(":")
        assert repository, f"FROM {stage.base} has no tag"
        assert tag, f"FROM {stage.base} has no tag"
        assert "/" not in tag, f"FROM {stage.base} has no tag"
        assert tag != "latest", f"FROM {stage.base}"
    assert stages[-1].base.startswith("python:3.11") or stages[-1].base in names
    python_bases = {s.base for s in stages if s.base not in names}
    assert all("slim-bookworm" in base for base in python_bases), python_bases


def test_the_image_runs_as_a_non_root_user_after_installing(final):
    instructions = final.instructions
    installs = [
        n for n, i in enumerate(instructions) if i.keyword == "RUN" and INSTALL_RUN.search(i.args)
    ]
    users = [n for n, i in enumerate(instructions) if i.keyword == "USER"]
    assert installs, "the final stage installs nothing"
    assert users, "the final stage has no USER: the container would run as root"
    last_user = instructions[users[-1]].args.strip()
    assert last_user not in ROOT_USERS, f"USER {last_user}"
    assert users[-1] > installs[-1], "USER must come after the last apt/pip RUN"
    assert last_user.split(":")[0] in {"1000", "dataguardian"}
    run_text = " ".join(i.args for i in final.all("RUN"))
    assert "--uid 1000" in run_text, "the uid 1000 user is not created"


def test_backup_client_tools_are_installed(final):
    run_text = " ".join(i.args for i in final.all("RUN"))
    for major in range(13, 19):
        assert re.search(rf"\bpostgresql-client-{major}\b", run_text), f"no pg_dump {major}"
    for v in range(13, 19):
        assert re.search(
            rf"\bfor v in [\d ]*\b{v}\b[\d ]*; do [^;]*pg_dump\S* --version", run_text
        ), v
    for package in (
        "mariadb-client",
        "mongodb-database-tools",
        "libicu72",
        "sqlite3",
        "zstd",
        "tini",
        "ca-certificates",
    ):
        assert re.search(rf"(?<![\w-]){re.escape(package)}(?![\w-])", run_text), package
    assert "apt.postgresql.org" in run_text, "PostgreSQL clients must come from PGDG"
    keyring = re.search(r"signed-by=(/usr/share/keyrings/[\w.-]+)", run_text)
    assert keyring, "the PGDG source is not pinned to a keyring"
    provided = [i.operands()[-1] for i in final.all("COPY")] + [run_text]
    assert any(keyring.group(1) in p for p in provided), "the PGDG keyring is never put in place"


def _tool_is_called_for_its_version(tool_name: str, run_text: str) -> bool:
    return bool(
        re.search(rf"(?<![\w-]){re.escape(tool_name)}\S* +(--version|/Version)\b", run_text)
    )


def test_every_engine_tool_is_in_the_image_and_prints_its_version_at_build(final):
    """Each client program an engine declares (``Engine.tools``) is installed in the image, and
    the build runs it once for its version, so a missing or broken tool fails the build."""
    from datasources.engines import ENGINES

    run_text = " ".join(i.args for i in final.all("RUN"))
    copied = " ".join(i.args for i in final.all("COPY"))
    for type_name in ENGINES:
        for tool in ENGINES.get(type_name).tools:
            named = [name for name in tool.names if _tool_is_called_for_its_version(name, run_text)]
            assert named, f"{type_name}: none of {tool.names} is run for its version in the image"
            for directory in tool.search_dirs:
                root = directory.split("*")[0].rstrip("/")
                assert root in run_text or root in copied, f"{type_name}: {root} is never filled"


def test_every_engine_tool_is_documented_with_its_version():
    """docs/ENGINES.md's table of tools names each tool, its package and the versions the image
    installs."""
    from datasources.engines import ENGINES

    table = [
        line
        for line in (REPO / "docs" / "ENGINES.md").read_text().splitlines()
        if line.startswith("|")
    ]
    for type_name in ENGINES:
        for tool in ENGINES.get(type_name).tools:
            rows = [row for row in table if f"`{tool.name}`" in row]
            assert rows, f"docs/ENGINES.md has no row for {tool.name}"
            assert any(re.search(r"\d+(\.\d+|\b)", row.split("|")[3]) for row in rows), (
                f"docs/ENGINES.md gives no version for {tool.name}"
            )


def test_python_dependencies_come_from_the_hashed_lock(stages):
    pip_runs = [i for s in stages for i in s.all("RUN") if re.search(r"pip3? install", i.args)]
    assert any(
        "--require-hashes" in i.args and re.search(r"-r\s+\S*requirements\.lock\b", i.args)
        for i in pip_runs
    ), "requirements.lock is not installed with --require-hashes"
    for run in pip_runs:
        assert "--require-hashes" in run.args, f"unpinned pip install at line {run.line}"
        assert "--no-cache-dir" in run.args, f"pip cache kept in the image at line {run.line}"


def locked(path: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """Normalised name -> (version, hashes) of a hash-pinned requirements file."""
    text = path.read_text().replace("\\\n", " ")
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = line.split()[0]
        assert "==" in requirement, f"{path.name}: {requirement} is not pinned"
        hashes = frozenset(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
        assert hashes, f"{path.name}: {requirement} has no hash"
        name, version = requirement.split("==")
        found[re.sub(r"[-_.]+", "-", name).lower()] = (version, hashes)
    return found


def pins(path: Path) -> dict[str, str]:
    return {name: version for name, (version, _) in locked(path).items()}


def test_flower_requirements_are_pinned_by_hash_and_do_not_overlap_the_lock():
    flower = pins(FLOWER_REQUIREMENTS)
    lock = pins(LOCK)
    assert "flower" in flower
    assert "flower" not in lock
    overlap = set(flower) & set(lock)
    assert not overlap, f"pinned in both files (installed with --no-deps): {sorted(overlap)}"
    assert "celery" in lock, "flower's celery dependency comes from the lock"


def test_the_image_installs_the_runtime_lock_and_never_the_dev_lock(stages):
    pip_runs = [i for s in stages for i in s.all("RUN") if re.search(r"pip3? install", i.args)]
    installed = {
        Path(name).name for run in pip_runs for name in re.findall(r"-r\s+(\S+)", run.args)
    }
    assert installed == {LOCK.name, FLOWER_REQUIREMENTS.name}, installed
    for run in pip_runs:
        assert not re.search(r"\[dev\]|--extra|requirements-dev", run.args), run.args
    copied = [source for s in stages for i in s.all("COPY") for source in i.operands()[:-1]]
    assert DEV_LOCK.name not in {Path(source).name for source in copied}


def test_the_runtime_lock_holds_no_development_tool():
    runtime = set(pins(LOCK))
    tools = {n for n in runtime if n in DEV_TOOLS or n.startswith("types-") or n.endswith("-stubs")}
    assert not tools, f"development tools in the image's lock: {sorted(tools)}"


def test_the_dev_lock_pins_every_runtime_package_at_the_same_version_and_hashes():
    runtime, dev = locked(LOCK), locked(DEV_LOCK)
    missing = set(runtime) - set(dev)
    assert not missing, f"in requirements.lock but not in requirements-dev.lock: {sorted(missing)}"
    differ = {
        name: (runtime[name][0], dev[name][0]) for name in runtime if runtime[name] != dev[name]
    }
    assert not differ, f"pinned differently (runtime, dev): {differ}"
    absent = DEV_TOOLS - set(dev)
    assert not absent, f"not in the dev lock: {sorted(absent)}"


def test_every_copied_file_exists_and_is_in_the_build_context(stages):
    stage_names = {s.name for s in stages if s.name}
    for stage in stages:
        for instruction in stage.all("COPY") + stage.all("ADD"):
            source_stage = instruction.flags().get("from")
            if source_stage:
                assert source_stage in stage_names, f"COPY --from={source_stage}: no such stage"
                continue
            for source in instruction.operands()[:-1]:
                path = (REPO / source).resolve()
                assert path.exists(), f"line {instruction.line}: COPY {source}: not in the repo"
                if source not in (".", "./"):
                    assert not is_ignored(source), f"COPY {source} is excluded by .dockerignore"


def test_dockerignore_keeps_local_state_and_secrets_out_but_not_the_source():
    for path in (
        ".venv",
        ".git",
        "data",
        "data/encryption.key",
        "dataguardian/__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".env",
        "docker/.env",
    ):
        assert is_ignored(path), f".dockerignore lets {path} into the image"
    for path in (
        "manage.py",
        "requirements.lock",
        "dataguardian/settings.py",
        "core/queues.py",
        "dataguardian/templates",
        "docker/requirements-flower.txt",
        "docker/.env.example",
    ):
        assert not is_ignored(path), f".dockerignore leaves out {path}, which the app needs"


def test_runtime_environment_ports_and_volume(final):
    env: dict[str, str] = {}
    for instruction in final.all("ENV"):
        for word in shlex.split(instruction.args):
            key, _, value = word.partition("=")
            env[key] = value
    assert env.get("DATAGUARDIAN_DATA_DIR") == "/data"
    assert env.get("DATAGUARDIAN_BIND") == "0.0.0.0:8000"
    assert env.get("PYTHONUNBUFFERED") == "1"
    assert any("8000" in i.operands() for i in final.all("EXPOSE"))
    assert any("/data" in i.operands() for i in final.all("VOLUME"))
    assert [i.args for i in final.all("WORKDIR")][-1] == "/app"


def test_volume_mount_points_exist_owned_by_the_app_user(final, app_services):
    run_text = " ".join(i.args for i in final.all("RUN"))
    targets = {str(v).split(":")[1] for svc in app_services.values() for v in svc["volumes"]}
    assert {"/data", "/backups"} <= targets
    chowns = re.findall(r"chown\s+(?:-R\s+)?\S+\s+([^;&|]+)", run_text)
    owned = {path for group in chowns for path in group.split()}
    for target in targets:
        assert target in owned, f"{target} would be a root-owned volume the app cannot write"


def test_entrypoint_is_tini_and_the_default_command_runs_everything(final):
    entrypoint = final.all("ENTRYPOINT")[-1].operands()
    assert entrypoint[0].endswith("/tini")
    assert final.all("CMD")[-1].operands() == ["python", "manage.py", "run"]


def test_healthcheck_uses_python_against_health(final):
    checks = final.all("HEALTHCHECK")
    assert checks, "no HEALTHCHECK"
    command = checks[-1].operands()
    assert command[0] == "CMD"
    assert command[1] == "python", "the image has no curl or wget"
    code = python_code(command)
    assert "http://127.0.0.1:8000/health" in code
    compile(code, "HEALTHCHECK", "exec")


# --- the healthcheck programs, run against a stand-in /health --------------------------------


class _Health(BaseHTTPRequestHandler):
    status = 200
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Host")))
        body = b'{"status": "ok"}'
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[int, type[_Health]]]:
    handler = type("Health", (_Health,), {"status": 200, "seen": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port, handler
    server.shutdown()
    server.server_close()


def _health_programs() -> list[tuple[str, str]]:
    dockerfile_check = split_stages(parse_dockerfile(DOCKERFILE.read_text()))[-1].all(
        "HEALTHCHECK"
    )[-1]
    web = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["web"]["healthcheck"]["test"]
    return [
        ("Dockerfile", python_code(dockerfile_check.operands())),
        ("compose web", python_code(argv(web))),
    ]


@pytest.mark.parametrize(("where", "code"), _health_programs(), ids=["dockerfile", "compose"])
@pytest.mark.parametrize(
    ("allowed_hosts", "expected_host"),
    [
        ("backups.example.com,localhost", "backups.example.com"),
        (".example.com", "example.com"),
        ("*", "localhost"),
        ("", "localhost"),
    ],
)
def test_healthcheck_program_passes_on_200_and_fails_on_503(
    health_server, where, code, allowed_hosts, expected_host
):
    port, handler = health_server
    assert "127.0.0.1:8000" in code
    program = code.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "ALLOWED_HOSTS": allowed_hosts,
        # The check must talk to the container itself, never through a configured proxy.
        "HTTP_PROXY": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
    }

    def run() -> int:
        return subprocess.run(
            [sys.executable, "-c", program], env=env, capture_output=True, timeout=30, check=False
        ).returncode

    assert run() == 0, f"{where}: healthcheck fails against a healthy /health"
    assert handler.seen == [("/health", expected_host)], handler.seen
    handler.status = 503
    assert run() != 0, f"{where}: healthcheck passes while /health answers 503"


def test_flower_is_published_on_loopback_by_default(services):
    (published,) = services["flower"]["ports"]
    assert re.fullmatch(r"\$\{FLOWER_PUBLISH:-127\.0\.0\.1:5555\}:5555", str(published))
