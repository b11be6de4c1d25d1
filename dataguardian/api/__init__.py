"""The REST API's shared pieces and its system endpoints.

Shared: the one pagination class, a serializer base that rejects unknown fields, the typed
configuration field (validated through the registry's schema, secrets write-only) and the
router every app registers on. System: ``/api/health``, ``/api/system/settings``,
``/api/system/stats`` and ``/api/auth/token``.
"""

from dataguardian.api.base import (
    ConfigField,
    ModelViewSet,
    Pagination,
    ReadOnlyViewSet,
    Schema,
    StrictModelSerializer,
    StrictSerializer,
    merge_config,
    not_found,
    router,
    secret_fields_of,
)
from dataguardian.api.system import HealthView, SettingsView, StatsView, TokenView

__all__ = [
    "ConfigField",
    "HealthView",
    "ModelViewSet",
    "Pagination",
    "ReadOnlyViewSet",
    "Schema",
    "SettingsView",
    "StatsView",
    "StrictModelSerializer",
    "StrictSerializer",
    "TokenView",
    "merge_config",
    "not_found",
    "router",
    "secret_fields_of",
]
