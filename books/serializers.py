from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from books import limits, selectors
from books.models import Book, Chapter, Description, DescriptionKind, Visibility
from books.resources import sign_urls
from books.text import reading_time_minutes


class ContributorSerializer(serializers.Serializer):
    name = serializers.CharField()
    role = serializers.CharField(help_text="a MARC relator code: trl, edt, ill, ...; ctb when the book gives none")


class BookSerializer(serializers.ModelSerializer):
    owner = serializers.IntegerField(source="owner_id", read_only=True)
    authors = serializers.ListField(child=serializers.CharField(), read_only=True)
    contributors = ContributorSerializer(many=True, read_only=True)
    has_cover = serializers.BooleanField(read_only=True)
    cover_url = serializers.SerializerMethodField()

    class Meta:
        model = Book
        fields = [
            "id",
            "title",
            "author",
            "authors",
            "contributors",
            "language",
            "genre",
            "description",
            "visibility",
            "owner",
            "chapter_count",
            "word_count",
            "file_format",
            "file_size",
            "has_cover",
            "cover_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "owner",
            "chapter_count",
            "word_count",
            "file_format",
            "file_size",
            "created_at",
            "updated_at",
        ]

    def get_cover_url(self, book) -> str | None:
        return reverse("book-cover", args=[book.pk]) if book.cover else None


class ProgressSummarySerializer(serializers.Serializer):
    percent = serializers.FloatField()
    chapter = serializers.IntegerField()
    updated_at = serializers.DateTimeField()


class BookListItemSerializer(BookSerializer):
    progress = serializers.SerializerMethodField()

    class Meta(BookSerializer.Meta):
        fields = [*BookSerializer.Meta.fields, "progress"]

    @extend_schema_field(ProgressSummarySerializer(allow_null=True, help_text="The caller's own progress, if any."))
    def get_progress(self, book):
        mine = book.my_progress
        return ProgressSummarySerializer(mine[0]).data if mine else None


def _chapter_size(content):
    if limits.chapter_too_large(content):
        raise serializers.ValidationError(limits.chapter_too_large_message("This chapter"))
    return content


class ChapterList(serializers.ListSerializer):
    """Counts the chapters before validating any of them (a huge list is refused at once)."""

    def to_internal_value(self, data):
        if isinstance(data, list) and len(data) > limits.max_chapters():
            raise serializers.ValidationError([limits.too_many_chapters("The book")])
        return super().to_internal_value(data)


class BookPageSerializer(serializers.Serializer):
    """One page of the book list (the shape books.reads.book_list builds)."""

    count = serializers.IntegerField(help_text="How many books the whole list has.")
    next = serializers.CharField(allow_null=True, help_text="Root-relative link to the next page, or null.")
    previous = serializers.CharField(allow_null=True, help_text="Root-relative link to the previous page, or null.")
    results = BookListItemSerializer(many=True)


class ChapterInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=500, allow_blank=True)
    content = serializers.CharField(allow_blank=True, trim_whitespace=False, validators=[_chapter_size])

    class Meta:
        list_serializer_class = ChapterList


class BookCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=500)
    author = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    language = serializers.CharField(max_length=35, required=False, allow_blank=True, default="en")
    genre = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False, default=Visibility.PRIVATE)
    chapters = ChapterInputSerializer(many=True, allow_empty=False)


class EpubUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)
    title = serializers.CharField(max_length=500, required=False, allow_blank=True)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False, default=Visibility.PRIVATE)


class ChapterSummarySerializer(serializers.ModelSerializer):
    reading_time_minutes = serializers.IntegerField(read_only=True)

    class Meta:
        model = Chapter
        fields = ["number", "title", "word_count", "reading_time_minutes"]


class ChapterSerializer(serializers.ModelSerializer):
    book_id = serializers.IntegerField(read_only=True)
    content = serializers.SerializerMethodField()
    reading_time_minutes = serializers.SerializerMethodField()
    previous = serializers.SerializerMethodField()
    next = serializers.SerializerMethodField()

    class Meta:
        model = Chapter
        fields = [
            "book_id",
            "number",
            "title",
            "content",
            "word_count",
            "reading_time_minutes",
            "previous",
            "next",
        ]

    def get_content(self, chapter) -> str:
        return sign_urls(chapter.book_id, chapter.content)  # pictures load without credentials

    def get_reading_time_minutes(self, chapter) -> int:
        return reading_time_minutes(chapter.word_count)

    def get_previous(self, chapter) -> int | None:
        return self._neighbours(chapter)[0]

    def get_next(self, chapter) -> int | None:
        return self._neighbours(chapter)[1]

    @staticmethod
    def _neighbours(chapter):
        if not hasattr(chapter, "_neighbours"):
            chapter._neighbours = selectors.neighbours(chapter.book_id, chapter.number)
        return chapter._neighbours


class ChapterUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=500, required=False, allow_blank=True)
    content = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, validators=[_chapter_size])


class TocEntrySerializer(serializers.Serializer):
    title = serializers.CharField()
    chapter = serializers.IntegerField()
    fragment = serializers.CharField(allow_blank=True, help_text="an id in the chapter; empty for its top")
    children = serializers.ListField(child=serializers.DictField(), help_text="entries like this one")


class DescriptionSerializer(serializers.ModelSerializer):
    chapter = serializers.IntegerField(source="chapter.number")

    class Meta:
        model = Description
        fields = ["id", "chapter", "kind", "text", "created_at"]


class ChapterNumberField(serializers.IntegerField):
    """The number of an existing chapter of the book in the serializer's context."""

    def __init__(self, **kwargs):
        super().__init__(min_value=1, **kwargs)

    def to_internal_value(self, data):
        number = super().to_internal_value(data)
        if not selectors.chapter_exists(self.context["book"].pk, number):
            raise serializers.ValidationError("There is no such chapter in this book.")
        return number


class DescriptionCreateSerializer(serializers.Serializer):
    chapter = ChapterNumberField()
    kind = serializers.ChoiceField(choices=DescriptionKind.choices)
    text = serializers.CharField(max_length=20000)
