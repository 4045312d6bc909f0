"""The store's web page: one HTML shell; its scripts use only the public API."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe


@require_safe
def app(request: HttpRequest) -> HttpResponse:
    return render(request, "web/app.html")
