from django.urls import include, path
from rest_framework.routers import DefaultRouter

from stockledger.catalog import api as catalog
from stockledger.core import auth_api

router = DefaultRouter()
router.register("product-types", catalog.ProductTypeViewSet, basename="product-type")
router.register("items", catalog.ItemViewSet, basename="item")
router.register("warehouses", catalog.WarehouseViewSet, basename="warehouse")
router.register("customers", catalog.CustomerViewSet, basename="customer")

urlpatterns = [
    path("auth/token/", auth_api.ObtainToken.as_view(), name="auth-token"),
    # Each app's own routes (a list of paths relative to /api/v1/), before the router's.
    path("", include("stockledger.stock.api")),
    path("", include("stockledger.pieces.api")),
    path("", include("stockledger.relief.api")),
    path("", include("stockledger.sales.api")),
    path("", include("stockledger.reconcile.api")),
    path("", include(router.urls)),
]
