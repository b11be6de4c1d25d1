"""DataGuardian's ground floor: what every app stands on and that imports no app.

The strategy registry and config schemas, encrypted fields and the key ring, the queue
policies, validation helpers, log redaction, the API and admin bases, and the global
settings (``SystemSetting``, ``system_settings``). Nothing here imports ``datasources``,
``storage``, ``jobs``, ``executions``, ``notifications`` or the project package.
"""
