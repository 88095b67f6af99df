from django.contrib.auth import views as auth_views
from django.urls import path

from .views import stock

app_name = "web"

urlpatterns = [
    path("", stock.dashboard, name="home"),
    path("inventory/", stock.inventory_list, name="inventory"),
    path("batches/<int:pk>/", stock.batch_detail, name="batch"),
    path("items/<int:pk>/chart/", stock.item_chart, name="item-chart"),
    path("audit/", stock.audit_trail, name="audit"),
]

auth_urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
