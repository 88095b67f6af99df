"""How a client reaches the API: over HTTP (the real server) or in-process (Django's test client).

Both return (status, body) or raise Unreachable, which means the outcome is unknown: the request may
or may not have been applied (timeout, refused or reset connection, truncated response).
"""

import http.client
import json


class Unreachable(Exception):
    """The request's outcome is unknown."""


class HttpTransport:
    """One fresh connection per request (gunicorn's sync workers close it after each response anyway)."""

    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.host, self.port, self.timeout = host, port, timeout

    def request(self, method: str, path: str, body: dict | None, headers: dict) -> tuple[int, object]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            payload = json.dumps(body) if body is not None else None
            hdrs = {"Accept": "application/json", **headers}
            if payload is not None:
                hdrs["Content-Type"] = "application/json"
            conn.request(method, path, body=payload, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            status = resp.status
        except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as e:
            raise Unreachable(f"{type(e).__name__}: {e}") from None
        finally:
            conn.close()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = {"raw": raw[:300].decode("utf-8", "replace")}
        return status, data


class DjangoTransport:
    """In-process, through DRF's test client (the smoke test inside the normal suite); one per thread."""

    def __init__(self):
        from rest_framework.test import APIClient

        self.client = APIClient()
        self.client.raise_request_exception = False  # a 500 is an answer the client retries, as over HTTP

    def request(self, method: str, path: str, body: dict | None, headers: dict) -> tuple[int, object]:
        extra = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
        data = json.dumps(body) if body is not None else None
        resp = self.client.generic(method, path, data=data or "", content_type="application/json", **extra)
        try:
            return resp.status_code, json.loads(resp.content) if resp.content else None
        except ValueError:
            return resp.status_code, {"raw": resp.content[:300].decode("utf-8", "replace")}
