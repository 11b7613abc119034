from typing import Any

from django.http import HttpRequest

from glocal.core.roles import MATRIX, Action


def scope(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    allowed: set[str] = set()
    if membership is not None:
        allowed = {action.value.replace(".", "_") for action in Action if membership.role in MATRIX[action]}
    return {
        "membership": membership,
        "memberships": getattr(request, "memberships", []),
        "can": allowed,
    }
