from django.db import connection
from django.http import JsonResponse
from django.views import defaults

API_PREFIX = "/api/"


def healthz(request):
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
    except Exception as e:  # noqa: BLE001 - the health check reports any database failure
        return JsonResponse({"status": "error", "database": str(e)[:200]}, status=503)
    return JsonResponse({"status": "ok", "database": connection.vendor})


def not_found(request, exception):
    """handler404: a URL under /api/ that matches no route (e.g. a non-numeric id) gets the API's JSON
    error body like every other API error; the rest of the site keeps Django's page."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"code": "not_found", "message": "Not found.", "extra": {}}, status=404)
    return defaults.page_not_found(request, exception)
