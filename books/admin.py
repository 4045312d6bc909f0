"""The admin for books. Saves and deletes go through books.services, like the API."""

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from books import services
from books.models import Book


@admin.register(Book)
class BookAdmin(admin.ModelAdmin):
    list_display = ["title", "author", "publication_date", "isbn", "updated_at"]
    list_filter = ["publication_date", "created_at"]
    search_fields = ["title", "author", "isbn"]
    date_hierarchy = "publication_date"
    readonly_fields = ["created_at", "updated_at"]
    ordering = ["-created_at", "-id"]
    show_full_result_count = False  # COUNT(*) over a large catalogue on every page is waste

    def save_model(self, request: HttpRequest, obj: Book, form: ModelForm, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in services.WRITABLE_FIELDS}
        if change:
            services.book_update(book=obj, **fields)
        else:
            created = services.book_create(**fields)
            obj.pk = created.pk
            obj.created_at, obj.updated_at = created.created_at, created.updated_at

    def delete_model(self, request: HttpRequest, obj: Book) -> None:
        services.book_delete(book=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Book]) -> None:
        for book in queryset:
            services.book_delete(book=book)
