"""The seed's router: the API root at / and the books resource."""

from books.views import BookViewSet
from core.api_root import Router

# DRF's DefaultRouter, with a root that also links the schema, docs, web page, sign-in...
router = Router()
router.register(r"books", BookViewSet)

urlpatterns = router.urls
