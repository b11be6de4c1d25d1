"""What the API tests store and look for: datasource connections, and secrets (with the
configs that carry them) that no response may ever contain."""

from __future__ import annotations

PG = {"host": "127.0.0.1", "port": 5432, "database": "postgres", "username": "postgres"}
MARIADB = {"host": "127.0.0.1", "port": 3306, "database": "mysql", "username": "root"}
#: Stored secrets that no response may ever contain.
DS_SECRET = "ds-Secret-4f1a9c"
S3_SECRET = "s3-Secret-77be02"
SMTP_SECRET = "smtp-Secret-0d3e55"

#: Nothing listens on the discard port: an S3 location there is unreachable, quickly.
S3_CONFIG = {
    "endpoint": "http://127.0.0.1:9",
    "bucket": "backups",
    "region": "us-east-1",
    "access_key_id": "AKIAEXAMPLE",
    "secret_access_key": S3_SECRET,
}

SMTP = {
    "host": "127.0.0.1",
    "port": 2525,
    "username": "mailer",
    "password": SMTP_SECRET,
    "from_email": "dg@example.com",
    "to": ["ops@example.com"],
}
