from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.response import Response
from rest_framework.views import APIView

from books import selectors
from cacheadmin.responses import CachedReadMixin
from reader import cached, services
from reader.serializers import ProgressInputSerializer, ProgressSerializer


@extend_schema_view(get=extend_schema(responses=ProgressSerializer))
class ProgressView(CachedReadMixin, APIView):
    """The caller's own reading progress on a book they may read."""

    cached_read = cached.PROGRESS

    @extend_schema(request=ProgressInputSerializer, responses=ProgressSerializer)
    def put(self, request, book_id):
        book = selectors.get_readable_book(request.user.id, book_id)
        form = ProgressInputSerializer(data=request.data, context={"book": book})
        form.is_valid(raise_exception=True)
        progress = services.save_progress(request.user, book, **form.validated_data)
        return Response(ProgressSerializer(progress).data)

    post = put
