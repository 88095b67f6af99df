from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from stockledger.core.views import healthz
from stockledger.web import urls as web_urls

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("stockledger.config.api_urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger"),
    path("", include(web_urls.auth_urlpatterns)),
    path("", include("stockledger.web.urls")),
]

handler404 = "stockledger.core.views.not_found"
