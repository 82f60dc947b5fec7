from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from books import selectors
from cacheadmin.responses import CachedReadMixin
from reader import cached, openapi, services
from reader.selectors import progress_etag
from reader.serializers import ProgressInputSerializer, ProgressSerializer


@openapi.progress
class ProgressView(CachedReadMixin, APIView):
    """The caller's own reading progress on a book they may read."""

    cached_read = cached.PROGRESS

    def put(self, request, book_id):
        book = selectors.get_readable_book(request.user.id, book_id)
        form = ProgressInputSerializer(data=request.data, context={"book": book})
        form.is_valid(raise_exception=True)
        try:
            progress = services.save_progress(
                request.user, book, if_match=request.META.get("HTTP_IF_MATCH"), **form.validated_data
            )
        except services.ProgressChanged as changed:
            return self._answer(changed.current, status.HTTP_412_PRECONDITION_FAILED)
        return self._answer(progress, status.HTTP_200_OK)

    @staticmethod
    def _answer(progress, code):
        headers = {"ETag": progress_etag(progress), "Cache-Control": "private"}
        return Response(ProgressSerializer(progress).data, status=code, headers=headers)

    post = put
