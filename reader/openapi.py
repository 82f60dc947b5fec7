"""What the OpenAPI schema says about accounts and reading progress (docs/API.md is the contract).

Only each operation's own bodies and statuses: errors, If-None-Match/304 and the cache headers come from
cacheadmin.openapi.AutoSchema.
"""

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer

from cacheadmin.openapi import header
from reader.serializers import ProgressInputSerializer, ProgressSerializer

TokenSerializer = inline_serializer("Token", {"token": serializers.CharField()})

RegisteredSerializer = inline_serializer(
    "Registered",
    {"id": serializers.IntegerField(), "username": serializers.CharField(), "token": serializers.CharField()},
)


def register(request_serializer):
    """`@openapi.register(RegisterSerializer)`: the serializer lives with its view in reader.accounts."""
    return extend_schema_view(
        post=extend_schema(
            summary="Sign up",
            description="A taken name or a weak password (Django's validators) answers `400` naming the field.",
            request=request_serializer,
            responses={201: RegisteredSerializer},
        )
    )


token = extend_schema_view(
    post=extend_schema(
        summary="Get the API token of a username and password",
        description="Bad credentials answer `400`.",
        request=AuthTokenSerializer,
        responses=TokenSerializer,
    )
)

_progress_write = extend_schema(
    summary="Store the caller's progress on a book",
    description=(
        "`chapter` is an existing chapter number, `position` 0..1 inside it, `percent` 0..100; out of range or "
        "missing: `400`. Without `percent` the server computes it from chapter and position, weighted by the "
        "chapters' word counts. With `If-Match` (the ETag of the progress last read), a progress changed since "
        "answers `412` with the current progress and nothing is stored; without it the last write wins."
    ),
    parameters=[
        OpenApiParameter(
            "If-Match", str, OpenApiParameter.HEADER, description="The ETag of the progress this device last read."
        ),
        header("ETag", [200, 412], "The stored progress's entity tag.", required=True),
    ],
    request=ProgressInputSerializer,
    responses={
        200: ProgressSerializer,
        412: OpenApiResponse(ProgressSerializer, description="Changed since `If-Match`: the current progress."),
    },
)

progress = extend_schema_view(
    get=extend_schema(
        summary="The caller's own progress on a book",
        description='Before the first update: chapter 1, position 0.0, cfi `""`, percent 0.0, updated_at null.',
        responses=ProgressSerializer,
    ),
    put=_progress_write,
    post=_progress_write,
)
