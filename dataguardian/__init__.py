"""DataGuardian: self-hosted backups of databases and files."""

from dataguardian.celery import app as celery_app

__all__ = ["celery_app"]
