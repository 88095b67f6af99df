"""Relief services: every write of the relief workflow (requests, packages, dispatch, receipt)."""

from .dispatch import (
    relief_package_approve_dispatch,
    relief_package_handover,
    relief_package_receive,
    relief_package_send_to_dispatch,
)
from .packages import relief_package_cancel, relief_package_create, relief_package_save_draft, relief_package_submit
from .requests import relief_request_cancel, relief_request_create, relief_request_submit

__all__ = [
    "relief_package_approve_dispatch",
    "relief_package_cancel",
    "relief_package_create",
    "relief_package_handover",
    "relief_package_receive",
    "relief_package_save_draft",
    "relief_package_send_to_dispatch",
    "relief_package_submit",
    "relief_request_cancel",
    "relief_request_create",
    "relief_request_submit",
]
