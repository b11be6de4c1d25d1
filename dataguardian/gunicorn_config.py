"""gunicorn's configuration under ``manage.py run``: its error and access lines go through the
project's logging (text or JSON, secrets masked), like every other process's."""

from __future__ import annotations

from django.conf import settings

logconfig_dict = settings.LOGGING
# The time, the level and the logger come from the log format; the line says the rest.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s "%(a)s" %(M)sms'
