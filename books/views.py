import mimetypes

from django.conf import settings
from django.http import FileResponse, HttpResponseNotModified
from django.utils.http import http_date
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from books import cached, openapi, resources, selectors, serializers, services
from books.epub import EpubError
from books.models import Description
from books.parsers import SafeJSONParser
from cacheadmin.responses import CachedReadMixin, is_not_modified


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The upload is larger than the server accepts."
    default_code = "payload_too_large"


def max_upload_bytes():
    return settings.BOOK_MAX_UPLOAD_MB * 1024 * 1024


def owned_book(request, book_id):
    """The book for a change: 404 if the caller may not read it, 403 if not theirs."""
    book = selectors.get_readable_book(request.user.id, book_id)
    if book.owner_id != request.user.id:
        raise PermissionDenied("Only the owner can change this book.")
    return book


@openapi.book_list
class BookListView(CachedReadMixin, APIView):
    parser_classes = [SafeJSONParser, MultiPartParser]
    upload_methods = ("POST",)  # a new book is an upload: its body limit and rate (cacheadmin.throttling)
    cached_read = cached.BOOK_LIST

    def post(self, request):
        if request.content_type.startswith("multipart/"):
            book = self._import_epub(request)
        else:
            book = self._create_from_chapters(request)
        return Response(serializers.BookSerializer(book).data, status=status.HTTP_201_CREATED)

    def _import_epub(self, request):
        form = serializers.EpubUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        if upload.size > max_upload_bytes():
            raise PayloadTooLarge
        try:
            return services.import_epub(
                request.user,
                upload,
                visibility=form.validated_data["visibility"],
                title=form.validated_data.get("title"),
            )
        except EpubError as error:
            raise ValidationError({"file": [str(error)]}) from error

    def _create_from_chapters(self, request):
        form = serializers.BookCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        chapters = [services.ChapterInput(c["title"], c["content"]) for c in data.pop("chapters")]
        return services.create_book(request.user, chapters=chapters, **data)


@openapi.book_detail
class BookDetailView(CachedReadMixin, APIView):
    cached_read = cached.BOOK

    def put(self, request, book_id):
        return self._update(request, book_id, partial=False)

    def patch(self, request, book_id):
        return self._update(request, book_id, partial=True)

    def _update(self, request, book_id, partial):
        book = owned_book(request, book_id)
        form = serializers.BookSerializer(book, data=request.data, partial=partial)
        form.is_valid(raise_exception=True)
        services.update_book(book, **form.validated_data)
        return Response(serializers.BookSerializer(book).data)

    def delete(self, request, book_id):
        services.delete_book(owned_book(request, book_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


@openapi.chapter_list
class ChapterListView(CachedReadMixin, APIView):
    cached_read = cached.CHAPTER_LIST


@openapi.chapter_detail
class ChapterDetailView(CachedReadMixin, APIView):
    upload_methods = ("PATCH",)  # a chapter's new text is an upload, like the book's
    cached_read = cached.CHAPTER

    def patch(self, request, book_id, number):
        owned_book(request, book_id)
        chapter = selectors.get_chapter(book_id, number)
        form = serializers.ChapterUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        services.update_chapter(chapter, **form.validated_data)
        return Response(serializers.ChapterSerializer(chapter).data)


@openapi.description_list
class DescriptionListView(CachedReadMixin, APIView):
    cached_read = cached.DESCRIPTIONS

    def post(self, request, book_id):
        book = owned_book(request, book_id)
        form = serializers.DescriptionCreateSerializer(data=request.data, context={"book": book})
        form.is_valid(raise_exception=True)
        description = services.create_description(book, **form.validated_data)
        return Response(serializers.DescriptionSerializer(description).data, status=status.HTTP_201_CREATED)


@openapi.description_detail
class DescriptionDetailView(APIView):
    def delete(self, request, book_id, description_id):
        book = owned_book(request, book_id)
        description = Description.objects.filter(book=book, pk=description_id).first()
        if description is None:
            raise NotFound
        services.delete_description(description)
        return Response(status=status.HTTP_204_NO_CONTENT)


@openapi.cover
class CoverView(APIView):
    """The cover image, from storage (never from Redis), with HTTP validators."""

    def get(self, request, book_id):
        book = selectors.get_readable_book(request.user.id, book_id)
        if not book.cover:
            raise NotFound("This book has no cover.")
        etag = f'"{book.cover_etag}"'
        if is_not_modified(request, etag):
            response = HttpResponseNotModified()
        else:
            content_type = mimetypes.guess_type(book.cover.name)[0] or "application/octet-stream"
            response = FileResponse(book.cover.open("rb"), content_type=content_type)
        modified = book.cover_updated_at or book.updated_at
        response["ETag"] = etag
        response["Last-Modified"] = http_date(modified.timestamp())
        response["Cache-Control"] = "private, max-age=86400"
        return response


@openapi.toc
class TocView(CachedReadMixin, APIView):
    """The table of contents: the cached read book:{id}:toc."""

    cached_read = cached.TOC


@openapi.resource
class ResourceView(APIView):
    """A picture of the book, from storage: with a valid signature (no credentials needed),
    or with the credentials of a reader of the book. Anything wrong is 404."""

    permission_classes = [AllowAny]

    def perform_authentication(self, request):
        pass  # lazy: a signed URL never looks at credentials

    def get(self, request, book_id, path):
        token = request.GET.get("s")
        if token is not None:
            if not resources.is_signed(book_id, path, token):
                raise NotFound
        elif not request.user.is_authenticated:
            raise NotFound
        else:
            selectors.get_readable_book(request.user.id, book_id)
        resource = selectors.get_resource(book_id, path)
        etag = f'"{resource.etag}"'
        if is_not_modified(request, etag):
            response = HttpResponseNotModified()
        else:
            response = FileResponse(resource.file.open("rb"), content_type=resource.media_type)
        response["ETag"] = etag
        response["Cache-Control"] = "private, max-age=86400"
        # Opened on its own, an (already sanitised) SVG still runs nothing, and neither does anything else.
        response["Content-Security-Policy"] = "sandbox"
        response["X-Content-Type-Options"] = "nosniff"
        return response
