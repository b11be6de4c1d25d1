"""The site has no page of its own at /: it sends the visitor to the admin's dashboard."""

from __future__ import annotations

from django.urls import reverse


def test_the_root_redirects_to_the_dashboard(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


def test_the_dashboard_is_the_admins_index(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert 'id="dashboard-headline"' in response.content.decode()


def test_logging_in_on_the_login_page_itself_lands_on_the_dashboard(client, admin_user):
    response = client.post(
        reverse("admin:login"), {"username": admin_user.username, "password": "password"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
