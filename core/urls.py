"""Routes of the cross-cutting app: health checks, metrics and the API description."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from core import views
from core.metrics import export_metrics

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", export_metrics, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", views.ApiDocsView.as_view(url_name="schema"), name="swagger-ui"),
]
