"""Health and API documentation endpoints (docs/API.md, Health)."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_healthz(anon):
    response = anon.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"status": "ok"}


def test_readyz(anon):
    response = anon.get("/readyz")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"database": "ok", "cache": "ok"}


def test_health_needs_no_credentials_and_ignores_bad_ones(anon):
    anon.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert anon.get("/healthz").status_code == 200
    assert anon.get("/readyz").status_code == 200


def test_schema(anon):
    response = anon.get("/api/schema/")

    assert response.status_code == 200
    assert b"/api/v1/books/" in response.content
    assert b"/api/v1/books/{book_id}/progress/" in response.content


def test_schema_as_json(anon):
    response = anon.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    assert "/api/v1/books/" in response.json()["paths"]


def test_docs(anon):
    response = anon.get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
