from django.contrib import admin

from books import services
from books.models import Book, Chapter, Description
from cacheadmin.actions import CacheActionsMixin


class ChapterInline(admin.TabularInline):
    model = Chapter
    fields = ["number", "title", "word_count"]
    readonly_fields = ["word_count"]
    extra = 0
    show_change_link = True


@admin.register(Book)
class BookAdmin(CacheActionsMixin, admin.ModelAdmin):
    list_display = ["id", "title", "author", "owner", "visibility", "chapter_count", "word_count", "created_at"]
    list_display_links = ["id", "title"]
    list_filter = ["visibility", "file_format", "language", "genre"]
    search_fields = ["title", "author", "owner__username"]
    readonly_fields = [
        "authors",
        "contributors",
        "pictures",
        "chapter_count",
        "word_count",
        "file_size",
        "cover_etag",
        "cover_updated_at",
        "created_at",
        "updated_at",
    ]
    raw_id_fields = ["owner"]
    inlines = [ChapterInline]

    @admin.display(description="pictures (from the EPUB)")
    def pictures(self, obj):
        found = list(obj.resources.values_list("path", "media_type")) if obj.pk else []
        return ", ".join(f"{path} ({media_type})" for path, media_type in found) or "-"

    def save_model(self, request, obj, form, change):
        if "cover" in form.changed_data:
            obj.refresh_cover_facts()
        if "author" in form.changed_data:
            obj.set_author(obj.author)
        super().save_model(request, obj, form, change)


@admin.register(Chapter)
class ChapterAdmin(admin.ModelAdmin):
    list_display = ["book", "number", "title", "word_count"]
    search_fields = ["title", "book__title"]
    readonly_fields = ["word_count"]
    raw_id_fields = ["book"]

    def save_model(self, request, obj, form, change):
        obj.set_content(obj.content, services.links_for_book(obj.book_id))
        super().save_model(request, obj, form, change)


@admin.register(Description)
class DescriptionAdmin(admin.ModelAdmin):
    list_display = ["book", "chapter", "kind", "created_at"]
    list_filter = ["kind"]
    search_fields = ["text", "book__title"]
    raw_id_fields = ["book", "chapter"]
