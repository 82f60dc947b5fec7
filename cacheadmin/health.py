from django.db import connection
from django.db.utils import Error as DatabaseError
from django.http import JsonResponse

from cacheadmin.cache import response_cache


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except DatabaseError:
        database = "unavailable"
    cache = "ok" if response_cache.available() else "unavailable"
    return JsonResponse({"database": database, "cache": cache}, status=200 if database == "ok" else 503)
