import mimetypes

from django.conf import settings
from django.http import FileResponse, HttpResponseNotModified
from django.utils.http import http_date
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from books import openapi, reads, selectors, serializers, services
from books.epub import EpubError
from books.models import Description, DescriptionKind
from books.parsers import SafeJSONParser
from books.selectors import DEFAULT_LIMIT, MAX_CHAPTER, MAX_LIMIT
from cacheadmin import keys
from cacheadmin.responses import CachedReadMixin, is_not_modified

MAX_OFFSET = 2**31  # far past any shelf, and still a number every database takes


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


def _int_param(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@openapi.book_list
class BookListView(CachedReadMixin, APIView):
    parser_classes = [SafeJSONParser, MultiPartParser]
    read = keys.BOOK_LIST
    builder = staticmethod(reads.book_list)

    def read_params(self, request, user_id):
        query = request.GET
        shelf = query.get("shelf") or "all"
        if shelf not in selectors.SHELVES:
            raise ValidationError({"shelf": ["Use 'mine' or 'public'."]})
        offset = min(max(_int_param(query.get("offset", query.get("skip")), 0), 0), MAX_OFFSET)
        limit = _int_param(query.get("limit"), DEFAULT_LIMIT)
        limit = DEFAULT_LIMIT if limit < 1 else min(limit, MAX_LIMIT)
        return {"user_id": user_id, "shelf": shelf, "offset": offset, "limit": limit}

    def post(self, request):
        if int(request.META.get("CONTENT_LENGTH") or 0) > max_upload_bytes():
            raise PayloadTooLarge
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
    read = keys.BOOK
    builder = staticmethod(reads.book)

    def read_params(self, request, user_id, book_id):
        return {"book_id": book_id}

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
    read = keys.CHAPTER_LIST
    builder = staticmethod(reads.chapter_list)

    def read_params(self, request, user_id, book_id):
        return {"book_id": book_id}


@openapi.chapter_detail
class ChapterDetailView(CachedReadMixin, APIView):
    read = keys.CHAPTER
    builder = staticmethod(reads.chapter)

    def read_params(self, request, user_id, book_id, number):
        return {"book_id": book_id, "number": number}

    def patch(self, request, book_id, number):
        owned_book(request, book_id)
        chapter = selectors.get_chapter(book_id, number)
        form = serializers.ChapterUpdateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        services.update_chapter(chapter, **form.validated_data)
        return Response(serializers.ChapterSerializer(chapter).data)


@openapi.description_list
class DescriptionListView(CachedReadMixin, APIView):
    read = keys.DESCRIPTIONS
    builder = staticmethod(reads.descriptions)

    def read_params(self, request, user_id, book_id):
        # Checked by hand, not by a serializer: this runs on every hit.
        kind = request.GET.get("kind") or "any"
        if kind != "any" and kind not in DescriptionKind.values:
            raise ValidationError({"kind": [f"Use one of: {', '.join(DescriptionKind.values)}."]})
        chapter = request.GET.get("chapter") or "any"
        if chapter != "any":
            if not chapter.isdecimal() or not 1 <= int(chapter) <= MAX_CHAPTER:
                raise ValidationError({"chapter": ["A chapter number is a whole number from 1."]})
            chapter = int(chapter)
        return {"book_id": book_id, "kind": kind, "chapter": chapter}

    def post(self, request, book_id):
        book = owned_book(request, book_id)
        form = serializers.DescriptionCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        chapter = book.chapters.filter(number=form.validated_data["chapter"]).first()
        if chapter is None:
            raise ValidationError({"chapter": ["There is no such chapter in this book."]})
        description = services.create_description(
            book, chapter=chapter, kind=form.validated_data["kind"], text=form.validated_data["text"]
        )
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
