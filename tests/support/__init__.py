"""Plain helpers the tests share: functions, classes and constants, never fixtures.

Fixtures live in ``conftest.py`` files: the root ``tests/conftest.py`` for the ones several
folders use, a folder's own conftest for the rest. Import helpers from the modules here by
name (``from tests.support.databases import pg_exec``); nothing imports from a conftest.
"""
