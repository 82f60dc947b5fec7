"""The Django admin site, with its sign-in throttled like the API's (per address and per username)."""

import math

from django.contrib import admin

from cacheadmin.errors import error_response
from cacheadmin.throttling import sign_in_wait


class ReaderAdminSite(admin.AdminSite):
    def login(self, request, extra_context=None):
        if request.method == "POST":
            wait = sign_in_wait(request)
            if wait is not None:
                seconds = max(1, math.ceil(wait))
                return error_response(
                    request,
                    429,
                    f"Too many sign-in attempts. Try again in {seconds} seconds.",
                    headers={"Retry-After": str(seconds)},
                )
        return super().login(request, extra_context)
