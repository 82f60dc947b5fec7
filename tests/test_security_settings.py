"""Production settings (API.md, "Configuration"): the secret key, HTTPS, check --deploy,
Cache-Control on per-user answers, the Content-Security-Policy of HTML pages, and error pages."""

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from lxml import html as lxml_html
from rest_framework.test import APIClient

from books.models import Visibility
from tests.factories import UserFactory, make_book

ROOT = Path(__file__).resolve().parent.parent


def manage(*args, **env):
    """manage.py in a process of its own, with config.settings and this environment."""
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "HTTPS", "DJANGO_SETTINGS_MODULE")}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def settings_in_a_process(**env):
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({"
        "'hsts': s.SECURE_HSTS_SECONDS, 'redirect': s.SECURE_SSL_REDIRECT, 'session': s.SESSION_COOKIE_SECURE,"
        "'csrf': s.CSRF_COOKIE_SECURE, 'proxy': s.SECURE_PROXY_SSL_HEADER, 'debug': s.DEBUG}))"
    )
    done = manage("shell", "-c", code, **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- the secret key and check --deploy ------------------------------------------------


def test_without_a_secret_key_and_debug_off_the_app_refuses_to_start():
    done = manage("check")
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert "SECRET_KEY is not set" in done.stderr


def test_debug_without_a_secret_key_starts():
    assert manage("check", DEBUG="true").returncode == 0


# drf-spectacular's schema warnings about views it cannot read are the OpenAPI work's to
# clear (they are not about deployment); every other issue fails this test.
SCHEMA_WARNING = "(drf_spectacular.W002)"


def test_check_deploy_is_clean_with_https_and_a_real_key():
    done = manage("check", "--deploy", DEBUG="false", HTTPS="true", SECRET_KEY=secrets.token_urlsafe(50))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    issues = [line for line in output.splitlines() if line.startswith("?:") or ": (" in line]
    assert [issue for issue in issues if SCHEMA_WARNING not in issue] == [], output
    assert "security." not in output


def test_check_deploy_names_the_missing_https_settings_without_https():
    done = manage("check", "--deploy", DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50))
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in done.stdout + done.stderr


def test_https_turns_on_hsts_redirect_secure_cookies_and_the_proxy_header():
    on = settings_in_a_process(HTTPS="true", SECRET_KEY="k" * 50)
    assert on == {
        "hsts": 31_536_000,
        "redirect": True,
        "session": True,
        "csrf": True,
        "proxy": ["HTTP_X_FORWARDED_PROTO", "https"],
        "debug": False,
    }
    off = settings_in_a_process(SECRET_KEY="k" * 50)
    assert (off["hsts"], off["redirect"], off["session"], off["csrf"], off["proxy"]) == (0, False, False, False, None)


@pytest.fixture
def https(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True


def test_behind_tls_plain_http_is_redirected_and_https_answers_carry_hsts(https, db):
    client = Client()
    assert client.get("/api/v1/books/").status_code == 301
    secure = client.get("/api/v1/books/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 401
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert client.get("/healthz").status_code == 200  # probes from inside speak plain HTTP


def test_make_run_keeps_a_generated_key_in_dot_env(tmp_path):
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    subprocess.run([make, "-s", "dev-key"], cwd=tmp_path, check=True, capture_output=True)
    first = (tmp_path / ".env").read_text()
    assert first.startswith("SECRET_KEY=") and len(first.strip()) > 50
    subprocess.run([make, "-s", "dev-key"], cwd=tmp_path, check=True, capture_output=True)
    assert (tmp_path / ".env").read_text() == first  # kept, not replaced
    assert ".env" in (ROOT / ".gitignore").read_text().split()


# --- Cache-Control ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_per_user_answers_are_private_hit_or_miss(api, user):
    book = make_book(user, visibility=Visibility.PUBLIC)
    for url in ("/api/v1/books/", f"/api/v1/books/{book.pk}/progress/"):
        outcomes = []
        for _ in range(2):
            response = api.get(url)
            outcomes.append(response["X-Cache"])
            assert response["Cache-Control"] == "private", url
        assert outcomes == ["MISS", "HIT"]
    write = api.put(f"/api/v1/books/{book.pk}/progress/", {"chapter": 1, "position": 0.5}, format="json")
    assert write["Cache-Control"] == "private"


@pytest.mark.django_db(transaction=True)
def test_per_user_answers_of_the_browsable_api_are_private(user):
    browser = APIClient()
    browser.force_login(user)
    response = browser.get("/api/v1/books/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Cache-Control"] == "private"


# --- Content-Security-Policy -----------------------------------------------------------


def policy(response):
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_runs_under_the_policy(response):
    """What a browser would block under script-src 'self': inline scripts, handlers, javascript: links."""
    assert response.status_code == 200
    page = lxml_html.fromstring(response.content)
    for script in page.iter("script"):
        assert script.get("src") or script.get("type") == "application/json", lxml_html.tostring(script)[:200]
        if script.get("src"):
            assert script.get("src").startswith("/"), script.get("src")
    for element in page.iter():
        for name in element.attrib:
            assert not name.lower().startswith("on"), (element.tag, name)
        if element.tag == "a":
            assert not (element.get("href") or "").lower().startswith("javascript:")
    for link in page.iter("link"):
        if link.get("rel") == "stylesheet":
            assert link.get("href").startswith("/"), link.get("href")


@pytest.fixture
def superuser_browser(db):
    browser = Client()
    browser.force_login(UserFactory(is_staff=True, is_superuser=True))
    return browser


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/books/book/",
        "/admin/books/book/add/",
        "/admin/auth/group/add/",
        "/admin/cacheadmin/cachepanel/",
        "/admin/cacheadmin/cachepanel/clear/",
        "/admin/cacheadmin/cachepanel/pattern/",
        "/admin/cacheadmin/cachepanel/warm/",
    ],
)
def test_admin_pages_carry_the_policy_and_run_under_it(superuser_browser, user, url):
    make_book(user)
    response = superuser_browser.get(url)
    directives = policy(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'", "'unsafe-inline'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert_runs_under_the_policy(response)


@pytest.mark.django_db(transaction=True)
def test_the_book_change_page_runs_under_the_policy(superuser_browser, user):
    book = make_book(user)
    assert_runs_under_the_policy(superuser_browser.get(f"/admin/books/book/{book.pk}/change/"))


def test_the_login_page_carries_the_policy(db):
    response = Client().get("/admin/login/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert_runs_under_the_policy(response)


@pytest.mark.django_db(transaction=True)
def test_the_browsable_api_carries_the_policy_and_runs_under_it(user):
    book = make_book(user)
    browser = APIClient()
    browser.force_login(user)
    for url in ("/api/v1/books/", f"/api/v1/books/{book.pk}/", f"/api/v1/books/{book.pk}/progress/"):
        response = browser.get(url, HTTP_ACCEPT="text/html")
        assert "script-src 'self'" in response["Content-Security-Policy"], url
        assert_runs_under_the_policy(response)


@pytest.mark.django_db(transaction=True)
def test_json_answers_carry_no_policy(api, user):
    assert "Content-Security-Policy" not in api.get("/api/v1/books/")


def test_the_swagger_page_may_load_its_scripts_from_its_cdn_and_nothing_inline(db):
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    directives = policy(response)
    assert "https://cdn.jsdelivr.net" in directives["script-src"]
    assert "'unsafe-inline'" not in directives["script-src"]
    page = lxml_html.fromstring(response.content)
    assert all(script.get("src") for script in page.iter("script"))


# --- error pages -----------------------------------------------------------------------


def test_a_404_inside_the_admin_is_an_html_page(superuser_browser):
    response = superuser_browser.get("/admin/books/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_404_of_the_api_stays_json(superuser_browser):
    response = superuser_browser.get("/api/v1/nothing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_403_inside_the_admin_is_an_html_page(db):
    browser = Client()
    browser.force_login(UserFactory(is_staff=True))
    response = browser.get("/admin/cacheadmin/cachepanel/clear/")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
