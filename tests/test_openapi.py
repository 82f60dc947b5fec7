"""The OpenAPI schema says what docs/API.md says (tests/test_schemathesis.py holds the running service to it)."""

import pytest
from drf_spectacular.checks import schema_check
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

BOOK = "/api/v1/books/{book_id}/"
CACHED_READS = [
    ("/api/v1/books/", "get"),
    (BOOK, "get"),
    ("/api/v1/books/{book_id}/chapters/", "get"),
    ("/api/v1/books/{book_id}/chapters/{number}/", "get"),
    ("/api/v1/books/{book_id}/progress/", "get"),
    ("/api/v1/books/{book_id}/descriptions/", "get"),
]


@pytest.fixture(scope="module")
def schema():
    GENERATOR_STATS.reset()
    generated = SchemaGenerator().get_schema(request=None, public=True)
    assert not GENERATOR_STATS._warn_cache and not GENERATOR_STATS._error_cache
    return generated


def operation(schema, path, method):
    return schema["paths"][path][method]


def component(schema, ref_holder):
    return schema["components"]["schemas"][ref_holder["$ref"].rsplit("/", 1)[-1]]


def body_schema(response, media_type="application/json"):
    return response["content"][media_type]["schema"]


def test_the_checks_see_no_schema_warning():
    # drf-spectacular's own check (run by `manage.py check --deploy`): no W001/W002.
    assert schema_check(None) == []


def test_the_book_list_is_a_page_with_its_parameters(schema):
    listing = operation(schema, "/api/v1/books/", "get")
    page = component(schema, body_schema(listing["responses"]["200"]))

    assert sorted(page["required"]) == ["count", "next", "previous", "results"]
    assert page["properties"]["next"]["nullable"] and page["properties"]["previous"]["nullable"]
    parameters = {p["name"]: p["schema"] for p in listing["parameters"] if p["in"] == "query"}
    assert parameters["limit"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    assert parameters["offset"]["minimum"] == 0 and parameters["skip"]["minimum"] == 0
    assert parameters["shelf"]["enum"] == ["all", "mine", "public"]
    item = schema["components"]["schemas"][page["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[-1]]
    assert item["properties"]["progress"]["nullable"]


def test_progress_updated_at_is_null_before_the_first_update(schema):
    progress = component(
        schema, body_schema(operation(schema, "/api/v1/books/{book_id}/progress/", "get")["responses"]["200"])
    )

    assert progress["properties"]["updated_at"]["nullable"]
    assert "updated_at" in progress["required"]


def test_register_takes_a_body_and_answers_201_with_a_token(schema):
    register = operation(schema, "/api/v1/auth/register/", "post")
    request = component(schema, body_schema(register["requestBody"]))

    assert set(request["properties"]) == {"username", "password", "email"}
    assert set(request["required"]) == {"username", "password"}
    assert list(register["requestBody"]["content"]) == ["application/json"]
    answer = component(schema, body_schema(register["responses"]["201"]))
    assert sorted(answer["required"]) == ["id", "token", "username"]
    assert "200" not in register["responses"]
    assert register["security"] == [{}]


def test_a_book_is_created_from_json_or_an_epub_upload(schema):
    create = operation(schema, "/api/v1/books/", "post")
    content = create["requestBody"]["content"]

    assert set(content) == {"application/json", "multipart/form-data"}
    upload = component(schema, content["multipart/form-data"]["schema"])
    assert upload["properties"]["file"] == {"type": "string", "format": "binary"}
    assert set(upload["properties"]) == {"file", "visibility", "title"}
    assert upload["required"] == ["file"]
    assert "chapters" in component(schema, content["application/json"]["schema"])["required"]
    assert {"201", "400", "401", "403", "413", "415"} <= set(create["responses"])


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, methods in [
    ("/api/v1/books/", ["get", "post"]),
    (BOOK, ["get", "put", "patch", "delete"]),
    ("/api/v1/books/{book_id}/chapters/{number}/", ["get", "patch"]),
    ("/api/v1/books/{book_id}/descriptions/", ["get", "post"]),
    ("/api/v1/books/{book_id}/descriptions/{description_id}/", ["delete"]),
    ("/api/v1/books/{book_id}/cover/", ["get"]),
] for m in methods])  # fmt: skip
def test_every_error_an_operation_can_answer_is_documented_with_its_shape(schema, path, method):
    responses = operation(schema, path, method)["responses"]
    detail = {"$ref": "#/components/schemas/ErrorDetail"}

    assert body_schema(responses["401"]) == detail
    assert responses["401"]["headers"]["WWW-Authenticate"]["required"]
    if "{" in path:
        assert body_schema(responses["404"]) == detail
    if method in ("post", "put", "patch"):
        assert body_schema(responses["400"])["anyOf"] == [detail, {"$ref": "#/components/schemas/FieldErrors"}]
        assert body_schema(responses["413"]) == detail
        assert "403" in responses  # not the owner, or a session change without its CSRF token
    if method == "get" and "{" not in path:
        assert "400" in responses  # the book list's shelf
    assert "500" not in responses


def test_cache_administration_documents_401_and_403(schema):
    for path, item in schema["paths"].items():
        if path.startswith("/api/v1/admin/cache/"):
            for method, op in item.items():
                assert {"401", "403"} <= set(op["responses"]), (path, method)


@pytest.mark.parametrize(("path", "method"), CACHED_READS)
def test_cached_reads_document_their_headers_and_304(schema, path, method):
    read = operation(schema, path, method)

    assert "If-None-Match" in {p["name"] for p in read["parameters"] if p["in"] == "header"}
    for status in ("200", "304"):
        headers = read["responses"][status]["headers"]
        assert headers["X-Cache"]["schema"]["enum"] == ["BYPASS", "HIT", "MISS"]
        assert headers["X-Cache"]["required"] and headers["ETag"]["required"]
    assert "content" not in read["responses"]["304"]


def test_writes_are_not_cached_reads(schema):
    assert "304" not in operation(schema, BOOK, "patch")["responses"]
    assert "X-Cache" not in operation(schema, BOOK, "patch")["responses"]["200"].get("headers", {})


def test_the_cover_is_an_image_with_validators(schema):
    cover = operation(schema, "/api/v1/books/{book_id}/cover/", "get")["responses"]

    assert set(cover["200"]["content"]) == {"image/jpeg", "image/png", "image/gif", "image/webp"}
    assert {"ETag", "Last-Modified", "Cache-Control"} <= set(cover["200"]["headers"])
    assert "304" in cover and "content" not in cover["304"]


def test_the_cache_statistics_have_their_real_fields(schema):
    stats = component(schema, body_schema(operation(schema, "/api/v1/admin/cache/stats/", "get")["responses"]["200"]))

    assert {
        "available",
        "keys_count",
        "memory_used_mb",
        "hits",
        "misses",
        "hit_rate_percent",
        "namespaces",
    } <= set(stats["required"])
    assert stats["properties"]["hits"]["nullable"]  # null while Redis is unreachable


def test_ids_in_paths_are_integers_of_at_most_18_digits(schema):
    parameters = operation(schema, BOOK, "get")["parameters"]
    book_id = next(p for p in parameters if p["name"] == "book_id")

    assert book_id["schema"] == {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}


def test_answers_list_every_field_as_required(schema):
    book = schema["components"]["schemas"]["Book"]

    assert set(book["required"]) == set(book["properties"])
    # …while a request body keeps its optional fields optional.
    assert schema["components"]["schemas"]["BookRequest"]["required"] == ["title"]
