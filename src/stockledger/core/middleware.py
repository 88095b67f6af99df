from . import context


class RequestIdMiddleware:
    """Gives every request an id (or keeps the client's X-Request-ID) for the audit log."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = (request.headers.get("X-Request-ID") or "")[:64] or context.new_id()
        request.request_id = rid
        with context.bound(context.request_id, rid):
            response = self.get_response(request)
        response["X-Request-ID"] = rid
        return response
