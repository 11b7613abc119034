"""Test send of a template's proof to a seed list, from the template editor (HQ).

The template's current version (its saved draft, else its published version) is rendered for one store
with the sample recipient, its subject prefixed "[TEST] ", and sent to each seed address through the
campaigns' own email path: the variant's byte skeleton (:class:`~glocal.delivery.email_skeleton.VariantMail`)
and the configured transport (``dispatch.providers.email_transport``, DKIM when a key is set). The links
of a test message are the preview's (they point nowhere: a click in a test can unsubscribe no one).

- The addresses: one per line or separated by commas or semicolons, at most :data:`MAX_ADDRESSES`, each
  checked by email-validator; the list used last is remembered per organisation (:class:`SeedList`).
- A draft that fails checks may be sent (it is a test): the result names the checks that fail. A draft
  that does not render at all is refused (there is nothing to send).
- At most :data:`RATE_LIMIT` test sends per user per hour, counted in the shared cache; each one is in the
  audit trail.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from email_validator import EmailNotValidError, validate_email

from glocal.core import audit
from glocal.core.language import recipient_language
from glocal.core.roles import Action, role_allows
from glocal.core.scope import get_scope
from glocal.creatives import rendering
from glocal.creatives import selectors as creative_selectors
from glocal.creatives.findings import ERROR, Finding
from glocal.creatives.models import ChannelTemplate
from glocal.network.models import Entity

from . import tracking
from .dispatch.providers import dkim_key, email_transport
from .dispatch.sending import sender_domain
from .email_skeleton import Sender, VariantMail
from .models import SeedList
from .transports.base import TransportError
from .transports.email_smtp import DkimKey

MAX_ADDRESSES = 10
RATE_LIMIT = 20  # test sends per user per hour
RATE_WINDOW = 3600  # seconds
SPLIT_RE = re.compile(r"[\s,;]+")


def parse_addresses(text: str) -> list[str]:
    """The seed addresses typed (one per line, or separated by commas or semicolons), normalised and
    without duplicates; ``ValidationError`` naming every invalid one, or when there are none or too many."""
    found: list[str] = []
    invalid: list[str] = []
    for raw in SPLIT_RE.split(text or ""):
        if not raw:
            continue
        try:
            address = validate_email(raw, check_deliverability=False, test_environment=True).normalized
        except EmailNotValidError:
            invalid.append(raw[:80])
            continue
        if address.lower() not in {a.lower() for a in found}:
            found.append(address)
    if invalid:
        raise ValidationError(
            ngettext(
                "This is not a valid email address: %(addresses)s.",
                "These are not valid email addresses: %(addresses)s.",
                len(invalid),
            )
            % {"addresses": ", ".join(invalid)},
            code="invalid_address",
        )
    if not found:
        raise ValidationError(_("Give at least one address to send the test to."), code="no_address")
    if len(found) > MAX_ADDRESSES:
        raise ValidationError(
            _("A test goes to at most %(max)s addresses (%(count)s given).")
            % {"max": MAX_ADDRESSES, "count": len(found)},
            code="too_many",
        )
    return found


def seed_addresses() -> list[str]:
    """The organisation's remembered seed list (the addresses of its last test send)."""
    found = SeedList.objects.first()
    return list(found.addresses) if found is not None else []


def _rate_key(user_id: int | None, now: dt.datetime) -> str:
    return f"glocal:delivery:test_send:{user_id or 0}:{int(now.timestamp()) // RATE_WINDOW}"


def _take_rate(user_id: int | None) -> None:
    """Count one test send of ``user_id`` this hour in the shared cache; refuse the 21st."""
    key = _rate_key(user_id, timezone.now())
    cache.add(key, 0, RATE_WINDOW)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, RATE_WINDOW)
        count = 1
    if count > RATE_LIMIT:
        raise ValidationError(
            _("You have sent %(max)s tests in the last hour: wait a little before the next one.")
            % {"max": RATE_LIMIT},
            code="rate_limited",
        )


@dataclass
class TestSendResult:
    sent: list[str]
    version_number: int
    store: Entity
    failing: list[Finding]

    @property
    def summary(self) -> str:
        """What happened, in the active language: the addresses, and the checks that fail."""
        text = ngettext(
            "Test of version %(number)s for %(store)s sent to %(count)s address: %(addresses)s.",
            "Test of version %(number)s for %(store)s sent to %(count)s addresses: %(addresses)s.",
            len(self.sent),
        ) % {
            "number": self.version_number,
            "store": self.store.name,
            "count": len(self.sent),
            "addresses": ", ".join(self.sent),
        }
        if self.failing:
            text += " " + _("These checks fail: %(checks)s") % {
                "checks": " · ".join(f.text for f in self.failing)
            }
        return text


class _TestMail(VariantMail):
    """The campaign skeleton with the preview's links: a test message unsubscribes no one."""

    def links(self, recipient: dict[str, Any], message_id: str) -> tuple[dict[str, str], str]:
        return {
            "unsubscribe_url": creative_selectors.PREVIEW_UNSUBSCRIBE_URL,
            "view_online_url": creative_selectors.PREVIEW_VIEW_ONLINE_URL,
        }, self.signed_ref(message_id)


def _mail(template: ChannelTemplate, store: Entity, variant: rendering.Variant, stamp: str) -> VariantMail:
    """The email skeleton the dispatcher would build for this store (its sender), with the test's links."""
    domain = sender_domain(template.organisation_id)
    return _TestMail(
        variant=variant,
        sender=Sender(
            from_name=store.name,
            from_address=f"{store.code.lower()}@{domain}",
            message_id_domain=domain,
            list_id=f"test.{store.code.lower()}.{domain}",
            reply_to=store.email,
        ),
        public_url=settings.GLOCAL_PUBLIC_URL.rstrip("/"),
        campaign=f"test-{template.pk}-{stamp}",
        organisation_id=template.organisation_id,
        tracking_key=tracking.tracking_key(),
    )


def _deliver(mail: VariantMail, person: dict[str, Any], addresses: list[str]) -> list[str]:
    """Each address gets its message through the configured transport; the addresses sent to."""
    transport = email_transport()
    key = dkim_key()
    sign = key.sign if isinstance(key, DkimKey) else None
    domain = mail.sender.message_id_domain
    sent: list[str] = []
    try:
        for index, address in enumerate(addresses, start=1):
            recipient = {**person, "id": index, "email": address}
            data = mail.build(recipient)
            transport.send_bytes(
                envelope_from=f"bounces@{domain}",
                recipient=address,
                data=data,
                sign=sign,
                message_id=f"<{mail.signed_ref(f'{mail.campaign}-{index}')}@{domain}>",
            )
            sent.append(address)
    except TransportError as exc:
        raise ValidationError(
            _("The test could not be sent to %(address)s: %(reason)s")
            % {"address": addresses[len(sent)], "reason": exc.message},
            code="transport",
        ) from None
    finally:
        transport.close()
    return sent


def template_test_send(*, template: ChannelTemplate, store: Entity, addresses: str) -> TestSendResult:
    """Send ``template``'s current version, rendered for ``store`` with the sample recipient, to the seed
    ``addresses``; remember them for the organisation and record the send in the audit trail."""
    scope = get_scope()
    if not role_allows(scope.role, Action.TEMPLATE_MANAGE):
        raise PermissionDenied
    if template.channel != "email":
        raise ValidationError(_("Only email templates can be sent as a test."), code="not_email")
    seeds = parse_addresses(addresses)
    version = template.latest_version()
    if version is None:
        raise ValidationError(_("This template has no saved version to send yet."), code="no_version")
    person = rendering.sample_recipient("camille")
    values = creative_selectors.stored_values(version, store)
    preview = creative_selectors.preview(version, store, values, person)
    if preview.rendered.errors:
        raise ValidationError(
            _("The draft does not render, nothing was sent: %(errors)s")
            % {"errors": " · ".join(e.text for e in preview.rendered.errors)},
            code="render",
        )
    _take_rate(scope.user_id)
    # The marker is in the tester's language (the message itself is in the store's reader's).
    prefix = _("[TEST] ").replace("{", "(").replace("}", ")")
    language = recipient_language(person, store)
    variant = creative_selectors.build_variant(version, store, values, language=language)
    variant = replace(variant, subject=prefix + variant.subject)
    stamp = timezone.now().strftime("%Y%m%d%H%M%S")
    sent = _deliver(_mail(template, store, variant, stamp), person, seeds)
    failing = [f for f in preview.findings if f.severity == ERROR]
    with transaction.atomic():
        SeedList.objects.update_or_create(
            organisation_id=scope.organisation_id, defaults={"addresses": seeds}
        )
        audit.record(
            action="template.test_send",
            summary=f"Test of {template.name} v{version.number} for {store.name} to {len(sent)} address(es)",
            entity_id=template.entity_id,
            data={
                "template": template.pk,
                "version": version.pk,
                "store": store.pk,
                "addresses": sent,
                "failing_checks": [f.code for f in failing],
            },
        )
    return TestSendResult(sent=sent, version_number=version.number, store=store, failing=failing)
