"""Helpers shared by the targeting tests (the fixtures are in ``conftest.py``)."""

from __future__ import annotations

import datetime
import re
import time
from typing import Any

from django.urls import reverse
from django.utils import timezone

from glocal.core.scope import activate
from glocal.targeting import leads, prospects
from glocal.targeting.models import LeadForm

# -- the public lead forms ----------------------------------------------------------------------------


def kiosk_url(form: LeadForm) -> str:
    return reverse("targeting:kiosk", kwargs={"token": form.kiosk_token})


def embed_url(form: LeadForm) -> str:
    return reverse("targeting:embed", kwargs={"token": form.embed_token})


def post_entry(client: Any, url: str, meta: dict[str, str] | None = None, **data: Any) -> Any:
    """Post an entry to a public form as a person would: Léa Martin's details, a render stamp 30 s old
    (past the minimum fill time), the honeypot empty; ``data`` adds or replaces fields, ``meta`` adds
    request headers (X-Forwarded-For…)."""
    payload = {
        "first_name": "Léa",
        "last_name": "Martin",
        "email": "",
        "mobile": "",
        "postcode": "59000",
        "website": "",
        "rendered": leads.render_stamp(time.time() - 30),
        **data,
    }
    return client.post(url, payload, **(meta or {}))


def texted_code(gateway: Any, number: str) -> str:
    """The code in the last SMS the local gateway received for ``number``."""
    texts = [r["payload"]["text"] for r in gateway.requests if r["payload"]["to"] == number]
    assert texts, f"no SMS to {number}"
    found = re.search(r"\b(\d{6})\b", texts[-1])
    assert found is not None
    return found.group(1)


def answer_shape(response: Any) -> tuple[int, str]:
    """What a visitor sees of an answer: its status and where it goes, without the signed token."""
    return response.status_code, re.sub(r"/l/sms/[^/]+/", "/l/sms/TOKEN/", response.get("Location", ""))


# -- external prospect lists -----------------------------------------------------------------------------


def upload_prospects(
    network: Any, data: Any, *, persona: str = "store_b", store: Any = None, **kw: Any
) -> Any:
    """Upload a prospect list as ``persona`` for ``store`` (store B by default), for campaign
    "spring-2027", purged in 30 days unless ``purge_after`` says otherwise."""
    with activate(network.scope(persona)):
        return prospects.upload_list(
            entity=store or network.store_b,
            name=kw.pop("name", "Rented Nice"),
            campaign_ref="spring-2027",
            purge_after=kw.pop("purge_after", timezone.localdate() + datetime.timedelta(days=30)),
            data=data,
            **kw,
        )
