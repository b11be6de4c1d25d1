"""The admin of executions, and of backup jobs (whose actions create executions).

``executions`` shows executions and their chunks with the operator's actions on them;
``restore_wizard`` restores a backup; ``operations`` holds the views behind the actions;
``live`` the progress the page polls; ``jobs`` registers the job admin with run now and the
retention preview.
"""

from django.contrib import admin

from executions.admin.executions import BackupChunkAdmin, BackupExecutionAdmin
from executions.admin.jobs import JobAdmin
from jobs.models import BackupJob

admin.site.register(BackupJob, JobAdmin)

__all__ = ["BackupChunkAdmin", "BackupExecutionAdmin", "JobAdmin"]
