"""R1: per-recipient render + MIME + tracking links + unsubscribe headers, per core.

Ours: :class:`glocal.delivery.email_skeleton.VariantMail`, built once per template version × store variant
from the creatives rendering (creatives' stage 1 and MJML compile, once; its sandbox for every
per-recipient expression), then per recipient: one small sandboxed render of the recipient's
expressions, a signed one-click unsubscribe token (the delivery tokens' format) in the body and the
``List-Unsubscribe`` header, a per-recipient reference on every tracked link (each link's click token is
signed once per variant), and the RFC 5322 bytes joined from the per-variant byte skeleton (8bit UTF-8
parts, no ``EmailMessage``, no per-recipient base64). The variant build is inside the timed run.

Reference, same run: a bare ``jinja2.Environment`` render of the same compiled HTML (~26–30 KB) with
the same recipient context. Ratio = our messages/s ÷ reference renders/s (target ≥ 0.3). One process:
per core. ``glocal/delivery/tests/test_email_skeleton.py`` checks the messages equal creatives' full
render (the oracle) and runs this benchmark small.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from bench import Result, benchmark, interleaved

PUBLIC = "https://glocal.example"
DATE = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)

PRODUCT = """
    <mj-section background-color="#ffffff" padding="8px 12px">
      <mj-column width="40%">
        <mj-image src="https://cdn.maison.example/p/{n}.jpg" alt="Produit {n}"
          href="https://shop.maison.example/p/{n}?utm_source=email" width="180px" />
      </mj-column>
      <mj-column width="60%">
        <mj-text font-size="16px" font-weight="bold" color="#1f5135">Produit de saison n°{n}</mj-text>
        <mj-text font-size="13px" line-height="1.5">
          Une sélection de notre magasin de {{{{ store.city }}}} : qualité, fraîcheur et conseils
          de l'équipe. Disponible dès aujourd'hui, dans la limite des stocks.</mj-text>
        <mj-button background-color="#b3261e"
          href="https://shop.maison.example/p/{n}/buy">Je le veux</mj-button>
      </mj-column>
    </mj-section>"""


def bench_mjml(products: int = 6) -> str:
    from glocal.demo.creatives import DEMO_EMAIL_MJML

    grid = "".join(PRODUCT.format(n=n) for n in range(1, products + 1))
    return DEMO_EMAIL_MJML.replace("    <!-- Locked footer", grid + "\n    <!-- Locked footer", 1)


def make_variant(version_id: int = 1) -> Any:
    from glocal.creatives import rendering, zones
    from glocal.demo import creatives as demo

    zone_defs, errors = zones.parse_zones(demo.DEMO_EMAIL_ZONES)
    assert not errors
    store = {
        "code": "S-042",
        "name": "Maison Verte Lille Centre",
        "address": "12 rue Nationale",
        "postcode": "59000",
        "city": "Lille",
        "phone": "+33 3 20 00 00 42",
        "opening_hours": {"mon": "9:00-19:00", "sat": "9:00-19:30"},
        "social_links": {},
    }
    store["full_address"] = "12 rue Nationale, 59000 Lille"
    store["map_url"] = "https://www.openstreetmap.org/search?query=Lille"
    store["hours_text"] = "Lundi: 9:00-19:00\nSamedi: 9:00-19:30"
    return rendering.Variant(
        channel="email",
        source=bench_mjml(),
        subject="{{ zones.headline }} — {{ store.name }}",
        preheader="Bonjour {{ recipient.first_name|fallback('cher client') }}, les nouveautés du magasin",
        text=demo.DEMO_EMAIL_TEXT,
        zones=zone_defs,
        values=zones.resolve(zone_defs, {"offer": "-20 %"}),
        store=store,
        version_id=version_id,
        organisation={"name": "Maison Verte"},
    )


def recipients(n: int) -> list[dict[str, Any]]:
    first = ["Camille", "Léa", "Hugo", "", "Nina", "Thomas", "Zoé"]
    return [
        {
            "id": 100_000 + i,
            "first_name": first[i % len(first)],
            "last_name": f"Martin{i}",
            "email": f"client{i}@example.test",
        }
        for i in range(n)
    ]


def build_mail(variant: Any) -> Any:
    """The variant's byte skeleton (built once per template version × store variant)."""
    from glocal.delivery.email_skeleton import Sender, VariantMail

    return VariantMail(
        variant=variant,
        sender=Sender(
            from_name=variant.store["name"],
            from_address="newsletter@maison-verte.example",
            message_id_domain="maison-verte.example",
            list_id="c42.s-042.maison-verte.example",
            reply_to="lille@maison-verte.example",
            unsubscribe_mailto="unsubscribe@maison-verte.example",
        ),
        public_url=PUBLIC,
        campaign="c42",
        organisation_id=1,
        tracking_key=b"bench-key-" * 3,
    )


def reference_template(variant: Any) -> tuple[Any, str]:
    """The same compiled HTML as ours (stage 1 + MJML), compiled by a bare Jinja2 Environment."""
    import jinja2

    from glocal.creatives import rendering
    from glocal.creatives.sandbox import compile_source, render

    stage1 = compile_source(rendering.STAGE1_ENV, rendering.defer_recipient_expressions(variant.source))
    html = rendering.compile_mjml(render(stage1, variant.context(html=True)))
    env = jinja2.Environment(autoescape=True)  # noqa: S701 - reference only; autoescape on
    env.filters["fallback"] = rendering.fallback
    return env.from_string(html), html


@benchmark("R1")
def r1(quick: bool) -> Result:
    import django

    django.setup()
    from glocal.creatives import rendering

    rendering.clear_caches()
    n = 300 if quick else 3000
    people = recipients(n)
    variant = make_variant()
    template, html = reference_template(variant)
    context = variant.context(html=True)
    links = {"unsubscribe_url": f"{PUBLIC}/u/x/", "view_online_url": f"{PUBLIC}/v/x/"}

    def ours() -> None:
        mail = build_mail(variant)  # once per variant: stage 1, MJML, split, tokens per link
        for person in people:
            mail.build(person, date=DATE)

    def reference() -> None:
        for person in people:
            template.render(**context, recipient=person, **links)

    compiles_before = rendering.stats["mjml_compiles"]
    runs = 5
    ours_s, ref_s = interleaved(ours, reference, runs=runs)
    compiles = (rendering.stats["mjml_compiles"] - compiles_before) / (runs + 1)
    start = time.perf_counter()
    mail = build_mail(variant)
    build_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    for person in people:
        mail.build(person, date=DATE)
    per_message_us = (time.perf_counter() - start) / n * 1e6
    sample = mail.build(people[1], date=DATE)
    return Result(
        id="R1",
        ours=n / ours_s,
        reference=n / ref_s,
        unit="messages/s (reference: renders/s)",
        target="≥ 0.3",
        dataset=f"{n} recipients, 1 store variant, compiled HTML {len(html) / 1024:.1f} KB",
        runs=runs,
        higher_is_better=True,
        notes=f"µs/message ours {ours_s / n * 1e6:.0f}, reference {ref_s / n * 1e6:.0f}; "
        f"MJML compiles per run (one variant): {compiles:g}",
        extra={
            "html_kb": round(len(html) / 1024, 1),
            "message_kb": round(len(sample) / 1024, 1),
            "tracked_links": len(mail.tracked_links),
            "mjml_compiles_per_run": compiles,
            "us_per_message": round(ours_s / n * 1e6, 1),
            "variant_build_ms": round(build_ms, 1),
            "us_per_message_without_variant_build": round(per_message_us, 1),
            "us_per_reference_render": round(ref_s / n * 1e6, 1),
        },
    )
