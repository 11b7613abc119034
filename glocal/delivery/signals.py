"""Signal receivers of the delivery app, connected when this module is imported (``DeliveryConfig.ready``):
django-anymail's ``tracking`` signal (an email provider's bounce, complaint, delivery and unsubscribe
webhooks, once Anymail has verified and normalised them) goes to :func:`feedback.anymail_tracking`."""

from __future__ import annotations

from anymail.signals import tracking

from . import feedback

DISPATCH_UID = "glocal.delivery.feedback.anymail_tracking"

tracking.connect(feedback.anymail_tracking, dispatch_uid=DISPATCH_UID)
