"""The system endpoints: ``/api/health``, ``/api/system/settings``, ``/api/system/stats``,
``/api/system/recoverability`` and ``/api/auth/token``. The API's shared pieces (pagination,
serializer bases, the typed configuration field, the router) live in ``core.api``."""

from dataguardian.api.system import (
    HealthView,
    RecoverabilityView,
    SettingsView,
    StatsView,
    TokenView,
)

__all__ = ["HealthView", "RecoverabilityView", "SettingsView", "StatsView", "TokenView"]
