"""URL wiring: the seed's router at the root, auth, admin, health and API docs."""

from django.contrib import admin
from django.urls import include, path

from core.auth_views import ObtainTokenView, RevokeAllTokensView, RevokeTokenView

urlpatterns = [
    path("", include("books.urls")),
    path("", include("core.urls")),
    path("", include("web.urls")),
    path("auth/token/", ObtainTokenView.as_view(), name="auth-token"),
    path("auth/logout/", RevokeTokenView.as_view(), name="auth-logout"),
    path("auth/logout-all/", RevokeAllTokensView.as_view(), name="auth-logout-all"),
    path("admin/", admin.site.urls),
]

# Errors outside DRF views (unknown URLs, crashes) are JSON too.
handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
