from django.db import connection
from django.http import JsonResponse


def healthz(request):
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
    except Exception as e:  # noqa: BLE001 - the health check reports any database failure
        return JsonResponse({"status": "error", "database": str(e)[:200]}, status=503)
    return JsonResponse({"status": "ok", "database": connection.vendor})
