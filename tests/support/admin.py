"""Secrets the admin tests store and look for: no admin page may show them."""

from __future__ import annotations

DATASOURCE_SECRET = "pg-Secret-7f3a9"
STORAGE_SECRET = "s3-Secret-b81c2"
