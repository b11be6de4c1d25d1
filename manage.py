#!/usr/bin/env python
"""Django's command-line utility for DataGuardian (the same as the ``dataguardian`` command)."""

from dataguardian.cli import main

if __name__ == "__main__":
    main()
