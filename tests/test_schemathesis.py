"""Schemathesis against a live gunicorn: the OpenAPI schema at /api/schema/ describes what the API answers.

Every operation of the schema is called as a regular user and as staff (a superuser, so the cache
administration answers 200 too) with cases schemathesis generates from the schema (valid and invalid),
cases on real objects (own and others' books, public and private, their chapters and descriptions) and a
few hand-written ones (a real EPUB upload, right credentials, If-None-Match: *), after schemathesis'
coverage phase (boundary values, missing and wrong-typed fields, other media types). Each answer passes
`not_a_server_error` and the conformance checks: status code, content type, response headers and
response body all as the schema documents them.

Bounded so it stays within a few minutes on two cores: SCHEMATHESIS_EXAMPLES cases per operation and
kind (default 10), derandomised (the same cases every run; set SCHEMATHESIS_SEED to explore others), no
shrinking. Deselect with `-m "not schemathesis"`.
"""

import itertools
import os
import re
import secrets
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from django.db import connection
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from books.models import Resource
from cacheadmin.models import WarmJob
from tests.epub_factory import make_epub
from tests.factories import UserFactory
from tests.gunicorn_server import Gunicorn

pytestmark = [
    pytest.mark.schemathesis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="gunicorn needs a database it can share"),
]

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "10"))
SEED = os.environ.get("SCHEMATHESIS_SEED")
MAX_COVERAGE_CASES = 300  # per operation; the coverage phase makes fewer than this for every operation today
PASSWORD = "a-long-passphrase-1"  # tests.factories.UserFactory's
HIGH_RATE = "100000/min"  # the fuzzer is not an abuser: throttles must not hide the API from it
PATH_PARAMETER = re.compile(r"{(\w+)}")


@dataclass
class Caller:
    user: object
    token: str
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self):
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def signed_in_again(self):
        """A valid token again: auth/logout/ and auth/password/ revoke the one the cases used."""
        self.token = Token.objects.get_or_create(user_id=self.user.pk)[0].key
        self.session.headers["Authorization"] = f"Bearer {self.token}"


@pytest.fixture
def server(tmp_path, settings):
    cache = settings.CACHES["default"]
    gunicorn = Gunicorn(
        {
            # The suite's own Redis database and key prefix: the session's cleanup removes what gunicorn stored.
            "REDIS_URL": cache["LOCATION"],
            "REDIS_KEY_PREFIX": cache["KEY_PREFIX"],
            "MEDIA_ROOT": str(tmp_path / "media"),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            **{f"THROTTLE_{scope}_RATE": HIGH_RATE for scope in ("AUTH", "LOGIN_USER", "READ", "WRITE", "UPLOAD")},
            # Background jobs (cache warming) go where this run's own worker, if any, takes them.
            **({"CELERY_BROKER_URL": settings.CELERY_BROKER_URL} if hasattr(settings, "CELERY_BROKER_URL") else {}),
        },
        tmp_path / "gunicorn.log",
    ).start()
    yield gunicorn
    gunicorn.stop()


class Library:
    """Books of the caller and of somebody else, public and private, created through the API."""

    def __init__(self, base, caller, other):
        self.base, self.caller, self.other = base, caller, other

    def _post(self, who, path, **kwargs):
        response = who.session.post(f"{self.base}/api/v1/{path}", timeout=30, **kwargs)
        assert response.status_code == 201, (path, response.status_code, response.text[:500])
        return response.json()

    def _json_book(self, who, visibility):
        book = self._post(
            who,
            "books/",
            json={
                "title": f"A {visibility} book",
                "visibility": visibility,
                "chapters": [{"title": f"Chapter {n}", "content": f"<p>Words of chapter {n}.</p>"} for n in (1, 2, 3)],
            },
        )
        description = self._post(
            who, f"books/{book['id']}/descriptions/", json={"chapter": 2, "kind": "location", "text": "A quiet lake."}
        )
        return book, description

    def _epub_book(self, who):
        files = {"file": ("book.epub", make_epub(cover=True), "application/epub+zip")}
        book = self._post(who, "books/", files=files, data={"visibility": "public"})
        assert book["has_cover"]
        return book

    def seed(self):
        """Path parameters that name real objects: the caller's and others', readable or not."""
        choices = []
        for who in (self.caller, self.other):
            for visibility in ("private", "public"):
                book, description = self._json_book(who, visibility)
                for number in (1, 3):
                    choices.append(
                        {
                            "book_id": book["id"],
                            "number": number,
                            "description_id": description["id"],
                            "pattern": f"book:{book['id']}:*",
                        }
                    )
        epub = self._epub_book(self.caller)
        choices.append({"book_id": epub["id"], "number": 1, "description_id": 1, "pattern": "user:*"})
        progress = self.caller.session.put(
            f"{self.base}/api/v1/books/{choices[0]['book_id']}/progress/",
            json={"chapter": 2, "position": 0.5},
            timeout=30,
        )
        assert progress.status_code == 200, progress.text
        # A warm job and a picture of the EPUB, for the operations that name them.
        job = WarmJob.objects.create(book_ids=[epub["id"]], requested_by_id=self.caller.user.pk)
        picture = Resource.objects.filter(book_id=epub["id"]).values_list("path", flat=True).first()
        assert picture is not None
        for ids in choices:
            ids.update(job=str(job.pk), path=picture)
        return choices


def conditional(operation):
    return operation.method.upper() == "GET" and any(p.name == "If-None-Match" for p in operation.headers)


def hand_written(operation, ids, caller):
    """Cases the generator would rarely find: valid bodies on real objects, validators that match."""
    method, path = operation.method.upper(), operation.path
    cases = []
    if conditional(operation):
        cases.append({"headers": {"If-None-Match": "*"}})
    if (method, path) == ("POST", "/api/v1/auth/token/"):
        cases.append({"body": {"username": caller.user.username, "password": PASSWORD}})
    if (method, path) == ("POST", "/api/v1/auth/register/"):
        cases.append({"body": {"username": f"new-{secrets.token_hex(4)}", "password": "a-long-passphrase-2"}})
    if (method, path) == ("POST", "/api/v1/books/"):
        cases.append(
            {
                "body": {"file": make_epub(cover=True), "visibility": "private", "title": "Uploaded"},
                "media_type": "multipart/form-data",
            }
        )
        cases.append({"body": {"file": b"not an epub"}, "media_type": "multipart/form-data"})
    if path.endswith("/progress/") and method in ("PUT", "POST"):
        cases.append({"body": {"chapter": 1, "position": 0.25}})
        cases.append({"body": {"chapter": 3, "position": 1.0, "percent": 99.5, "cfi": "epubcfi(/6/4)"}})
    if path.endswith("/descriptions/") and method == "POST":
        cases.append({"body": {"chapter": 1, "kind": "character", "text": "A tall stranger."}})
    if path.endswith("/descriptions/") and method == "GET":
        cases.append({"query": {"kind": "location", "chapter": 2}})
    if path.endswith("/warm/"):
        cases.append({"body": {"books": [ids["book_id"]]}})
        cases.append({"body": {"all": True}})
    if method in ("PUT", "PATCH") and path == "/api/v1/books/{book_id}/":
        cases.append({"body": {"title": "Renamed", "visibility": "public"}})
    if method == "PATCH" and path.endswith("/chapters/{number}/"):
        cases.append({"body": {"content": "<p>New <em>words</em>.</p><script>alert(1)</script>"}})
    return cases


def coverage_cases(schema, operation):
    """Schemathesis' coverage phase: boundary values, missing and wrong-typed fields, odd media types."""
    cases = schema.iter_coverage_cases(
        operation,
        generation_modes=list(GenerationMode),
        generation_config=schema.config.generation_for(operation=operation),
    )
    return itertools.islice(cases, MAX_COVERAGE_CASES)


class Run:
    """Calls cases and collects failures (one per operation and kind of failure) instead of stopping."""

    def __init__(self, server, caller):
        self.server, self.caller = server, caller
        self.failures = {}
        self.calls = 0
        self.statuses = {}

    def exercise(self, case):
        self.calls += 1
        try:
            # The caller's token wins over any Authorization the generator wrote from the security scheme.
            response = case.call(
                base_url=self.server.url,
                session=self.caller.session,
                headers={"Authorization": f"Bearer {self.caller.token}"},
                timeout=60,
            )
        except requests.RequestException as error:
            self._fail(case, type(error).__name__, str(error))
            return
        self.statuses.setdefault(case.operation.label, set()).add(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS)
        except (FailureGroup, Failure) as error:
            for failure in getattr(error, "exceptions", [error]):
                self._fail(case, failure.title, str(error))

    def _fail(self, case, title, message):
        self.failures.setdefault((case.operation.label, title), message)

    def generated(self, strategy):
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=SEED is None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )
        @given(case=strategy)
        def run(case):
            self.exercise(case)

        if SEED is not None:
            run = seed(int(SEED))(run)
        run()

    def report(self):
        lines = [f"{len(self.failures)} failure(s) in {self.calls} calls:"]
        for (label, title), message in sorted(self.failures.items()):
            lines.append(f"\n=== {label}: {title}\n{message[:3000]}")
        if any("Server error" in title for _, title in self.failures):
            lines.append(f"\n=== gunicorn log\n{self.server.log_tail()}")
        return "\n".join(lines)


@pytest.mark.parametrize("role", ["user", "staff"])
def test_every_operation_answers_as_the_schema_says(server, role):
    caller_user = UserFactory(is_staff=role == "staff", is_superuser=role == "staff")
    other_user = UserFactory()
    caller, other = Caller(caller_user, caller_user.auth_token.key), Caller(other_user, other_user.auth_token.key)
    library = Library(server.url, caller, other)
    schema = schemathesis.openapi.from_url(f"{server.url}/api/schema/?format=json")
    run = Run(server, caller)

    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        caller.signed_in_again()
        other.signed_in_again()
        choices = library.seed()  # afresh for each operation: the previous one may have deleted them
        names = PATH_PARAMETER.findall(operation.path)
        for case in coverage_cases(schema, operation):
            run.exercise(case)
        run.generated(operation.as_strategy(GenerationMode.POSITIVE))
        run.generated(operation.as_strategy(GenerationMode.NEGATIVE))
        real = [{name: ids[name] for name in names} for ids in choices] if names else [{}]
        if names:
            run.generated(st.one_of(*[operation.as_strategy(GenerationMode.POSITIVE, path_parameters=p) for p in real]))
        for path_parameters in real:
            run.exercise(operation.Case(path_parameters=path_parameters))  # no body, no query
            for kwargs in hand_written(operation, choices[0], caller):
                run.exercise(operation.Case(path_parameters=path_parameters, **kwargs))

    assert not run.failures, run.report()
    # Every operation was reached with real objects: it succeeded at least once (cache administration as a
    # regular user: refused), and every conditional read answered 304 at least once.
    assert set(run.statuses) == {operation.label for operation in operations}
    for label, statuses in run.statuses.items():
        if "/admin/" in label and role == "user":
            assert statuses == {403} | (statuses & {400, 404, 405, 415}), (label, statuses)
        else:
            assert any(200 <= status < 300 for status in statuses), (label, statuses)
    for operation in operations:
        if conditional(operation):
            assert 304 in run.statuses[operation.label], (operation.label, run.statuses[operation.label])
