from django.contrib.auth import views as auth_views
from django.urls import path

from .views import depot, pipes, pipes_outbound, reconcile, relief, stock

app_name = "web"

urlpatterns = [
    path("", stock.dashboard, name="home"),
    path("inventory/", stock.inventory_list, name="inventory"),
    path("batches/<int:pk>/", stock.batch_detail, name="batch"),
    path("items/<int:pk>/chart/", stock.item_chart, name="item-chart"),
    path("audit/", stock.audit_trail, name="audit"),
    # pipes
    path("pipes/", pipes.pipes_home, name="pipes"),
    path("pipes/production/", pipes.production, name="pipe-production"),
    path("pipes/returns/new/", pipes.return_create, name="pipe-return"),
    path("pipes/lines/row/", pipes.intake_row, name="pipe-intake-row"),
    path("pipes/stock/<int:pk>/cut/", pipes.stock_cut, name="pipe-cut"),
    path("pipes/stock/<int:pk>/split/", pipes.bundle_split, name="pipe-split"),
    path("pipes/stock/<int:pk>/combine/", pipes.spares_combine, name="pipe-combine"),
    path("pipes/dispatch/", pipes_outbound.dispatch, name="pipe-dispatch"),
    path("pipes/scrap/", pipes_outbound.scrap, name="pipe-scrap"),
    path("pipes/operations/", pipes_outbound.operations, name="pipe-operations"),
    path("pipes/operations/<int:pk>/", pipes_outbound.operation, name="pipe-operation"),
    path("pipes/operations/<int:pk>/return/", pipes_outbound.dispatch_revert, name="pipe-dispatch-revert"),
    path("pipes/operations/<int:pk>/close/", pipes_outbound.dispatch_close, name="pipe-dispatch-close"),
    path("pipes/operations/<int:pk>/revert-scrap/", pipes_outbound.scrap_revert, name="pipe-scrap-revert"),
    path("pipes/operations/<int:pk>/revert-return/", pipes_outbound.return_revert, name="pipe-return-revert"),
    # relief
    path("relief/", relief.packages, name="relief-packages"),
    path("relief/approvals/", relief.approvals, name="relief-approvals"),
    path("relief/requests/", relief.requests, name="relief-requests"),
    path("relief/requests/new/", relief.request_new, name="relief-request-new"),
    path("relief/requests/row/", relief.request_row, name="relief-request-row"),
    path("relief/requests/<int:pk>/", relief.request_detail, name="relief-request"),
    path("relief/requests/<int:pk>/submit/", relief.request_submit, name="relief-request-submit"),
    path("relief/requests/<int:pk>/cancel/", relief.request_cancel, name="relief-request-cancel"),
    path("relief/requests/<int:pk>/packages/new/", relief.package_new, name="relief-package-new"),
    path("relief/packages/<int:pk>/", relief.package_detail, name="relief-package"),
    path("relief/packages/<int:pk>/drawer/<int:item_pk>/", relief.package_drawer, name="relief-package-drawer"),
    path("relief/packages/<int:pk>/draft/", relief.package_draft, name="relief-package-draft"),
    path("relief/packages/<int:pk>/submit/", relief.package_submit, name="relief-package-submit"),
    path("relief/packages/<int:pk>/cancel/", relief.package_cancel, name="relief-package-cancel"),
    path("relief/packages/<int:pk>/approve-dispatch/", relief.package_approve_dispatch, name="relief-package-approve"),
    path("relief/packages/<int:pk>/send-to-dispatch/", relief.package_send_to_dispatch, name="relief-package-send"),
    path("relief/packages/<int:pk>/handover/", relief.package_handover, name="relief-package-handover"),
    path("relief/packages/<int:pk>/receive/", relief.package_receive, name="relief-package-receive"),
    # depot and sales
    path("depot/", depot.depot_home, name="depot"),
    path("depot/ledger/", depot.ledger_post, name="ledger-post"),
    path("depot/ledger/row/", depot.leg_row, name="ledger-leg-row"),
    path("depot/sales/", depot.sale_list, name="sales"),
    path("depot/sales/new/", depot.sale_new, name="sale-new"),
    path("depot/sales/row/", depot.sale_row, name="sale-line-row"),
    path("depot/invoices/", depot.invoice_list, name="invoices"),
    path("depot/invoices/<int:pk>/", depot.invoice_detail, name="invoice"),
    path("depot/invoices/<int:pk>/<str:action>/", depot.invoice_action, name="invoice-action"),
    # reconcile
    path("reconcile/", reconcile.reconcile_home, name="reconcile"),
    path("reconcile/verify/", reconcile.run_verify, name="reconcile-verify"),
    path("reconcile/recompute/", reconcile.run_recompute, name="reconcile-recompute"),
    path("reconcile/runs/<int:pk>/", reconcile.run_detail, name="reconcile-run"),
]

auth_urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
