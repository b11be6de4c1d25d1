"""The ``dataguardian`` command: Django's management commands with DataGuardian's settings.

``dataguardian run``, ``dataguardian backup <job>``, ``dataguardian migrate`` ... are the
commands of ``manage.py``; ``DJANGO_SETTINGS_MODULE`` defaults to ``dataguardian.settings``.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Run the management command named in ``argv`` (default ``sys.argv``)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataguardian.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv if argv is None else argv)
