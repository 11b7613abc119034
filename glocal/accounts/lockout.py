"""Login limits on top of django-axes: per account and address, and per address across accounts.

django-axes locks a (username, address) pair after ``AXES_FAILURE_LIMIT`` failures. That does not stop
one address trying one password on many accounts (password spraying): each account fails once. This
handler also counts the failures of an address across all accounts within the cool-off period and
locks the address at ``GLOCAL_LOGIN_FAILURES_PER_ADDRESS`` (higher: an office behind one address has
many people mistyping). Both locks last ``AXES_COOLOFF_TIME``.
"""

from __future__ import annotations

from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest


def address_failures(request: HttpRequest) -> int:
    """Failures from the request's address, all accounts together, within the cool-off period."""
    address = getattr(request, "axes_ip_address", None)
    if not address:
        return 0
    total = AccessAttempt.objects.filter(
        ip_address=address, attempt_time__gte=get_cool_off_threshold(request)
    ).aggregate(total=Sum("failures_since_start"))["total"]
    return int(total or 0)


class LoginLockHandler(AxesDatabaseHandler):
    def get_failures(self, request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
        """axes compares this one number with ``AXES_FAILURE_LIMIT`` (to refuse a login and to lock
        after a failure). It is the pair's count, raised to the limit once the address alone has
        reached its own, higher limit."""
        pair = super().get_failures(request, credentials)
        limit = get_failure_limit(request, credentials)
        if address_failures(request) >= settings.GLOCAL_LOGIN_FAILURES_PER_ADDRESS:
            return max(pair, limit)
        return pair
