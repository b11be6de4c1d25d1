"""The wizard lists only datasources of the backup's type as other targets."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import DatasourceFactory

pytestmark = pytest.mark.django_db


def test_only_datasources_of_the_same_type_are_offered(admin_client, completed_backup):
    DatasourceFactory.create(name="reporting replica", type="postgres")
    DatasourceFactory.create(
        name="shop mariadb",
        type="mysql",
        connection_config={"host": "h", "port": 3306, "database": "d", "username": "u"},
    )
    wizard = reverse("admin:executions_backupexecution_restore", args=[completed_backup.pk])
    html = admin_client.get(wizard).content.decode()
    assert "reporting replica" in html
    assert "shop mariadb" not in html
