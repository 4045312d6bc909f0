"""The seed's router: the API root at / and the books resource."""

from rest_framework.routers import DefaultRouter

from books.views import BookViewSet

router = DefaultRouter()
router.register(r"books", BookViewSet)

urlpatterns = router.urls
