from django.urls import path

from web import views

urlpatterns = [
    path("app/", views.app, name="web-app"),
]
