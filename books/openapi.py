"""What the OpenAPI schema says about the books API (docs/API.md is the contract).

One decorator per view (`@openapi.book_list` on BookListView, …). Only each operation's own bodies and
statuses are here: the errors every operation can answer, and the If-None-Match/304/ETag/X-Cache of
cached reads, come from cacheadmin.openapi.AutoSchema.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view

from books import selectors, serializers
from books.models import DescriptionKind
from cacheadmin.openapi import IF_NONE_MATCH, NOT_MODIFIED, header, integer

book_list = extend_schema_view(
    get=extend_schema(
        operation_id="books_list",
        summary="The books the caller may read",
        description=(
            "Own and public books, newest first (`-created_at, -id`), each with the caller's own `progress` "
            "(or null). `next`/`previous` are root-relative links. A `limit` out of range is clamped (0, negative "
            "or not a number: 20; over 100: 100) and an `offset` that is not a number counts as 0."
        ),
        parameters=[
            OpenApiParameter(
                "limit",
                integer(minimum=1, maximum=selectors.MAX_LIMIT, default=selectors.DEFAULT_LIMIT),
                description="Books per page.",
            ),
            OpenApiParameter("offset", integer(minimum=0, default=0), description="Books to skip."),
            OpenApiParameter("skip", integer(minimum=0), description="An alias of `offset` (`offset` wins)."),
            OpenApiParameter(
                "shelf",
                str,
                enum=list(selectors.SHELVES),
                default="all",
                description="`mine`: the caller's own books; `public`: public books. Anything else answers `400`.",
            ),
        ],
        responses=serializers.BookPageSerializer,
    ),
    post=extend_schema(
        summary="Add a book from JSON chapters, or by uploading an EPUB (multipart)",
        description=(
            "JSON: a title and at least one chapter of HTML (sanitised). Multipart: `file` (an EPUB), optional "
            "`visibility` and `title`; metadata, chapters in spine order and the cover come from the EPUB. "
            'A file that is not a readable EPUB answers `400 {"file": [...]}`.'
        ),
        request={
            "application/json": serializers.BookCreateSerializer,
            "multipart/form-data": serializers.EpubUploadSerializer,
        },
        responses={201: serializers.BookSerializer},
    ),
)

book_detail = extend_schema_view(
    get=extend_schema(summary="A book", responses=serializers.BookSerializer),
    put=extend_schema(
        summary="Change a book (owner)", request=serializers.BookSerializer, responses=serializers.BookSerializer
    ),
    patch=extend_schema(
        summary="Change some of a book's fields (owner)",
        request=serializers.BookSerializer,
        responses=serializers.BookSerializer,
    ),
    delete=extend_schema(
        summary="Delete a book with its chapters, descriptions, progress and files (owner)", responses={204: None}
    ),
)

chapter_list = extend_schema_view(
    get=extend_schema(
        summary="The chapters of a book, by number (no pagination)",
        responses=serializers.ChapterSummarySerializer(many=True),
    )
)

chapter_detail = extend_schema_view(
    get=extend_schema(
        summary="A chapter, with the numbers of the chapters before and after it",
        responses=serializers.ChapterSerializer,
    ),
    patch=extend_schema(
        summary="Change a chapter's title or content (owner)",
        request=serializers.ChapterUpdateSerializer,
        responses=serializers.ChapterSerializer,
    ),
)

description_list = extend_schema_view(
    get=extend_schema(
        summary="The descriptive passages of a book, by chapter then id",
        parameters=[
            OpenApiParameter(
                "kind", str, enum=DescriptionKind.values, description="Only passages of this kind (else `400`)."
            ),
            OpenApiParameter(
                "chapter",
                integer(minimum=1, maximum=selectors.MAX_CHAPTER),
                description="Only passages of this chapter number (else `400`).",
            ),
        ],
        responses=serializers.DescriptionSerializer(many=True),
    ),
    post=extend_schema(
        summary="Add a descriptive passage (owner)",
        request=serializers.DescriptionCreateSerializer,
        responses={201: serializers.DescriptionSerializer},
    ),
)

description_detail = extend_schema_view(
    delete=extend_schema(summary="Delete a descriptive passage (owner)", responses={204: None}),
)

COVER_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")

cover = extend_schema_view(
    get=extend_schema(
        summary="The book's cover image",
        description="Served from storage. `404` when the book has no cover.",
        parameters=[
            IF_NONE_MATCH,
            header("ETag", [200, 304], "The cover's entity tag, for `If-None-Match`."),
            header("Last-Modified", [200, 304], "When the cover last changed."),
            header("Cache-Control", [200, 304], "`private, max-age=86400`."),
        ],
        responses={**{(200, media_type): OpenApiTypes.BINARY for media_type in COVER_TYPES}, 304: NOT_MODIFIED},
    )
)

toc = extend_schema_view(
    get=extend_schema(
        summary="The book's table of contents",
        description=(
            "The book's own table of contents (EPUB 3 `nav`, else EPUB 2 NCX), nested as in the book; each entry "
            'points at a chapter number and an anchor in it (`fragment` `""` for the chapter\'s top). A book made '
            "from JSON chapters has one entry per chapter."
        ),
        responses=serializers.TocEntrySerializer(many=True),
    )
)

resource = extend_schema_view(
    get=extend_schema(
        summary="A picture of the book",
        description=(
            "The signed URL written into chapter content loads without credentials for at least 24 hours; "
            "without a signature the caller's token must read the book. A bad signature, another type of file "
            "or a book the caller may not read: `404`. SVG files are sanitised and served with "
            "`Content-Security-Policy: sandbox`."
        ),
        auth=[{}, {"tokenAuth": []}],
        parameters=[
            OpenApiParameter("s", str, description="The signature written into chapter content."),
            IF_NONE_MATCH,
            header("ETag", [200, 304], "The picture's entity tag, for `If-None-Match`."),
            header("Cache-Control", [200, 304], "`private, max-age=86400`."),
            header("Content-Security-Policy", [200], "`sandbox`."),
        ],
        responses={
            **{(200, media_type): OpenApiTypes.BINARY for media_type in (*COVER_TYPES, "image/svg+xml")},
            304: NOT_MODIFIED,
        },
    )
)
