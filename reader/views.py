from rest_framework.response import Response
from rest_framework.views import APIView

from books import reads, selectors
from cacheadmin import keys
from cacheadmin.responses import CachedReadMixin
from reader import openapi, services
from reader.serializers import ProgressInputSerializer, ProgressSerializer


@openapi.progress
class ProgressView(CachedReadMixin, APIView):
    """The caller's own reading progress on a book they may read."""

    read = keys.PROGRESS
    builder = staticmethod(reads.progress)

    def read_params(self, request, user_id, book_id):
        return {"user_id": user_id, "book_id": book_id}

    def put(self, request, book_id):
        book = selectors.get_readable_book(request.user.id, book_id)
        form = ProgressInputSerializer(data=request.data, context={"book": book})
        form.is_valid(raise_exception=True)
        progress = services.save_progress(request.user, book, **form.validated_data)
        return Response(ProgressSerializer(progress).data)

    post = put
