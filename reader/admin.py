from django.contrib import admin

from reader.models import ReadingProgress


@admin.register(ReadingProgress)
class ReadingProgressAdmin(admin.ModelAdmin):
    list_display = ["user", "book", "chapter", "percent", "updated_at"]
    search_fields = ["user__username", "book__title"]
    raw_id_fields = ["user", "book"]
