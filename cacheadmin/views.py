"""Staff endpoints of the response cache (docs/API.md, "Cache administration").

Every endpoint calls cacheadmin.operations, like the Django admin panel and the
management commands; warming starts a background job (cacheadmin.jobs) whose status has
an endpoint of its own. Staff with the cache permission only (cacheadmin.permissions): 401
without credentials, 403 otherwise. Every clear and warm is recorded in the admin log.
"""

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from cacheadmin import audit, jobs, operations
from cacheadmin.cache import CacheUnavailable
from cacheadmin.openapi import BAD_REQUEST, error, header
from cacheadmin.permissions import ManagesCache, ViewsCacheStats
from cacheadmin.registry import PATTERN

MAX_WARM_BOOKS = 1000


class CacheUnavailableError(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The response cache is not available."
    default_code = "cache_unavailable"


def unavailable():
    return CacheUnavailableError(operations.unavailable_message())


class CacheAdminView(APIView):
    permission_classes = [ManagesCache]


class NamespaceStatsSerializer(serializers.Serializer):
    keys = serializers.IntegerField(allow_null=True)
    hits = serializers.IntegerField(allow_null=True)
    misses = serializers.IntegerField(allow_null=True)


class TtlSerializer(serializers.Serializer):
    static = serializers.IntegerField(help_text="Seconds (REDIS_CACHE_DEFAULT_TTL).")
    dynamic = serializers.IntegerField(help_text="Seconds (REDIS_CACHE_DYNAMIC_TTL).")


class CacheStatsSerializer(serializers.Serializer):
    """What operations.stats() answers; every number is null while Redis is unreachable."""

    available = serializers.BooleanField(help_text="false while Redis is unreachable (or the cache is off).")
    enabled = serializers.BooleanField(help_text="REDIS_CACHE_ENABLED.")
    keys_count = serializers.IntegerField(allow_null=True, help_text="Keys of the response cache.")
    hits = serializers.IntegerField(allow_null=True, help_text="This app's cached reads answered from Redis.")
    misses = serializers.IntegerField(allow_null=True, help_text="This app's cached reads computed.")
    hit_rate_percent = serializers.FloatField(allow_null=True)
    namespaces = serializers.DictField(child=NamespaceStatsSerializer(), help_text="Per namespace: book, user.")
    reads = serializers.DictField(child=NamespaceStatsSerializer(), help_text="Per declared read: book, chapter, ….")
    memory_used_mb = serializers.FloatField(allow_null=True, help_text="The Redis server's.")
    evictions = serializers.IntegerField(allow_null=True, help_text="The Redis server's evicted keys.")
    redis_version = serializers.CharField(allow_null=True)
    uptime_seconds = serializers.IntegerField(allow_null=True)
    ttl_seconds = TtlSerializer()


_deleted = inline_serializer("CacheCleared", {"deleted": serializers.IntegerField()})
_unavailable = error("Redis is unreachable or the cache is turned off.")


class StatsView(CacheAdminView):
    permission_classes = [ViewsCacheStats]

    @extend_schema(summary="Statistics of the response cache", responses=CacheStatsSerializer)
    def get(self, request):
        return Response(operations.stats())


class ClearView(CacheAdminView):
    @extend_schema(
        operation_id="admin_cache_clear",
        summary="Delete every key of the response cache (and nothing else)",
        responses={200: _deleted, 503: _unavailable},
    )
    def delete(self, request):
        try:
            result = operations.clear()
        except CacheUnavailable as error:
            raise unavailable() from error
        audit.cleared_all(request.user, result["deleted"], audit.API)
        return Response(result)


class ClearPatternView(CacheAdminView):
    @extend_schema(
        operation_id="admin_cache_clear_pattern",
        summary="Delete the response-cache keys matching a logical pattern such as book:7:*",
        parameters=[
            OpenApiParameter(
                "pattern",
                str,
                OpenApiParameter.PATH,
                pattern=PATTERN.pattern,
                description="1 to 200 letters, digits, `:`, `_`, `-`, `*`; anything else answers `400`.",
            )
        ],
        responses={
            200: inline_serializer(
                "CachePatternCleared",
                {"pattern": serializers.CharField(), "deleted": serializers.IntegerField()},
            ),
            400: BAD_REQUEST,
            503: _unavailable,
        },
    )
    def delete(self, request, pattern):
        try:
            result = operations.clear_pattern(pattern)
        except operations.InvalidPattern as error:
            raise ValidationError({"pattern": [operations.PATTERN_HELP]}) from error
        except CacheUnavailable as error:
            raise unavailable() from error
        audit.cleared_pattern(request.user, pattern, result["deleted"], audit.API)
        return Response(result)


class WarmSerializer(serializers.Serializer):
    books = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        allow_empty=False,
        max_length=MAX_WARM_BOOKS,
        required=False,
    )
    all = serializers.BooleanField(required=False, default=False)

    def validate(self, data):
        try:
            operations.check_warm_target(
                data.get("books"), data.get("all"), books='"books": [ids]', everything='"all": true'
            )
        except operations.InvalidWarmTarget as error:
            raise ValidationError(str(error)) from error
        return data


_job = inline_serializer(
    "CacheJob",
    {
        "job": serializers.UUIDField(),
        "state": serializers.ChoiceField(choices=["queued", "running", "done", "failed"]),
        "books_total": serializers.IntegerField(allow_null=True),
        "books_done": serializers.IntegerField(),
        "keys": serializers.IntegerField(),
        "error": serializers.CharField(allow_null=True),
        "started_at": serializers.DateTimeField(allow_null=True),
        "finished_at": serializers.DateTimeField(allow_null=True),
    },
)


class WarmView(CacheAdminView):
    @extend_schema(
        summary="Compute and store the cached reads of some books, or of all, in a background job",
        request=WarmSerializer,
        parameters=[header("Location", [202], "The job's status URL.")],
        responses={
            202: inline_serializer(
                "CacheWarmQueued", {"job": serializers.UUIDField(), "status_url": serializers.URLField()}
            ),
            503: _unavailable,
        },
    )
    def post(self, request):
        """Enqueue a warm job; its progress is at status_url (the Location header too)."""
        form = WarmSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        book_ids = form.validated_data.get("books")
        try:
            job = jobs.start_warm(book_ids=book_ids, all_books=form.validated_data["all"], user=request.user)
        except CacheUnavailable as error:
            raise unavailable() from error
        except jobs.QueueUnavailable as error:
            raise CacheUnavailableError(jobs.QUEUE_MESSAGE) from error
        audit.warm_started(request.user, job, audit.API)
        status_url = request.build_absolute_uri(reverse("cache-job", args=[job.pk]))
        return Response(
            {"job": str(job.pk), "status_url": status_url},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": status_url},
        )


class JobView(CacheAdminView):
    permission_classes = [ViewsCacheStats]

    @extend_schema(
        operation_id="admin_cache_job",
        summary="A warm job's progress",
        responses={200: _job, 404: error("No such job.")},
    )
    def get(self, request, job):
        found = jobs.find(job)
        if found is None:
            raise NotFound("No such job.")
        return Response(jobs.as_dict(found))
