"""Plain helpers the tests share: functions, classes and constants, never fixtures.

- ``databases``: the local PostgreSQL and MariaDB, ``pg_exec``/``mysql_exec`` and checksums
- ``recipes``: docs/RESTORE.md's restore recipes, run as written
- ``jobs``: a job's backup run in-process (succeeding or failing), and where its files went
- ``network``: a closed loopback port, and a relay that makes a real server answer slowly
- ``processes``: the process tree a test started (from /proc), and killing what survives
- ``scheduling``: due jobs at a fixed clock, and the messages queued in Redis
- ``api`` and ``admin``: the connection configs and known secrets those tests store

The model factories stay in ``tests/factories.py`` and the storage servers and remote-backup
helpers in ``tests/storage/`` (``s3server``, ``sshd``, ``backups``): the benchmarks import them
from there.

Fixtures live in ``conftest.py`` files: the root ``tests/conftest.py`` for the ones tests in
several folders use, a folder's own conftest for the rest. Import helpers from the modules
here by name (``from tests.support.databases import pg_exec``); nothing imports a conftest.
"""
