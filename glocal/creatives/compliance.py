"""Compliance checks on rendered content, pure: findings with a code, a severity, where, and a
translatable message (shown in the reader's language).

Restricted words are HQ's regular expressions (organisation setting); they are validated when saved
(:func:`validate_patterns`) and matched on bounded text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from django.utils.translation import gettext_lazy as _

from .findings import ERROR, WARNING, Finding
from .sms import SmsInfo
from .zones import Zone, rich_text_to_plain

MAX_PATTERN = 200
MAX_PATTERNS = 100
SAFE_SCHEMES = ("http://", "https://")
NON_WEB_SCHEMES = ("mailto:", "tel:")
# A repeated group that itself repeats or alternates, such as (a+)+, (a*)* or (a|aa)+, can backtrack
# catastrophically (Python's re has no time limit): refused when saved, skipped if found later.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}|](?:[^()\\]|\\.)*\)\s*[+*{]")


def validate_patterns(patterns: list[str]) -> list[str]:
    """Error messages (translated) for restricted-word patterns HQ wants to save."""
    errors: list[str] = []
    if len(patterns) > MAX_PATTERNS:
        errors.append(str(_("At most %(max)s restricted words.") % {"max": MAX_PATTERNS}))
    for pattern in patterns:
        if len(pattern) > MAX_PATTERN:
            errors.append(
                str(
                    _("“%(p)s…” is too long (at most %(max)s characters).")
                    % {"p": pattern[:30], "max": MAX_PATTERN}
                )
            )
            continue
        if _NESTED_QUANTIFIER.search(pattern):
            errors.append(
                str(_("“%(p)s” has nested repetitions, which can make matching very slow.") % {"p": pattern})
            )
            continue
        try:
            re.compile(pattern)
        except re.error as exc:
            errors.append(
                str(_("“%(p)s” is not a valid regular expression: %(e)s") % {"p": pattern, "e": exc})
            )
    return errors


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.images: list[dict[str, str]] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag in ("style", "script", "title", "head"):
            self._skip += 1
        if tag in ("a", "area") and "href" in attributes:
            self.links.append(attributes["href"].strip())
        if tag == "img":
            self.images.append(attributes)
        for name in ("src", "background", "action", "formaction"):
            if tag != "img" and name in attributes and attributes[name].strip():
                self.links.append(attributes[name].strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title", "head") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


@dataclass
class EmailContext:
    sender_name: str
    postal_address: str
    unsubscribe_url: str
    restricted_patterns: list[str] = field(default_factory=list)
    zones: list[Zone] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


def _finding(code: str, severity: str, where: str, message: Any, **params: Any) -> Finding:
    return Finding(code=code, severity=severity, where=where, message=message, params=params)


def _norm(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split()).casefold()


def restricted_words(
    parts: dict[str, str], patterns: list[str], zones: list[Zone], values: dict[str, Any]
) -> list[Finding]:
    """A finding per pattern found, located in the zone that holds it when a zone does."""
    findings: list[Finding] = []
    zone_texts = {
        z.key: rich_text_to_plain(str(values.get(z.key, "")))
        if z.type == "rich_text"
        else str(values.get(z.key, ""))
        for z in zones
    }
    for pattern in patterns[:MAX_PATTERNS]:
        if len(pattern) > MAX_PATTERN or _NESTED_QUANTIFIER.search(pattern):
            continue
        try:
            regex = re.compile(pattern, re.IGNORECASE)
        except re.error:
            continue
        where = next((k for k, t in zone_texts.items() if t and regex.search(t[:20_000])), None)
        if where is None:
            where = next((p for p, t in parts.items() if t and regex.search(t[:200_000])), None)
        if where is not None:
            match = regex.search(zone_texts.get(where) or parts.get(where, ""))
            findings.append(
                _finding(
                    "restricted_word",
                    ERROR,
                    where,
                    _("“%(word)s” is a restricted word for this network."),
                    word=match.group(0)[:60] if match else pattern,
                )
            )
    return findings


def check_email(html: str, text: str, subject: str, ctx: EmailContext) -> list[Finding]:
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    body_text = " ".join(" ".join(scanner.text).split())
    findings: list[Finding] = []
    if not subject.strip():
        findings.append(_finding("no_subject", ERROR, "subject", _("The email has no subject.")))
    if not ctx.unsubscribe_url or ctx.unsubscribe_url not in scanner.links:
        findings.append(
            _finding(
                "no_unsubscribe",
                ERROR,
                "html",
                _("The email has no unsubscribe link ({{ unsubscribe_url }})."),
            ),
        )
    normalised = _norm(body_text)
    if not ctx.sender_name.strip() or _norm(ctx.sender_name) not in normalised:
        findings.append(
            _finding(
                "no_sender",
                ERROR,
                "html",
                _("The sender's name (%(name)s) does not appear in the email."),
                name=ctx.sender_name or "—",
            )
        )
    if not ctx.postal_address.strip() or _norm(ctx.postal_address) not in normalised:
        findings.append(
            _finding(
                "no_postal_address",
                ERROR,
                "html",
                _("The sender's postal address (%(address)s) does not appear in the email."),
                address=ctx.postal_address or "—",
            )
        )
    for image in scanner.images:
        tiny = image.get("width") in ("0", "1") and image.get("height") in ("0", "1")
        if not tiny and not image.get("alt", "").strip():
            findings.append(
                _finding(
                    "image_no_alt",
                    ERROR,
                    "html",
                    _("An image has no alternative text (%(src)s)."),
                    src=(image.get("src") or "—")[:80],
                )
            )
    visible_images = [i for i in scanner.images if i.get("width") not in ("0", "1")]
    if visible_images and len(body_text) < 200 * len(visible_images):
        findings.append(
            _finding(
                "image_heavy",
                WARNING,
                "html",
                _(
                    "Mostly images (%(images)s image(s), %(chars)s characters of text): spam filters and "
                    "readers without images need more text."
                ),
                images=len(visible_images),
                chars=len(body_text),
            )
        )
    for link in scanner.links:
        lowered = link.lower()
        if lowered.startswith(SAFE_SCHEMES) or lowered.startswith(NON_WEB_SCHEMES):
            continue
        findings.append(
            _finding(
                "bad_link",
                ERROR,
                "html",
                _("A link does not go to an http or https address: %(link)s"),
                link=link[:80],
            )
        )
    findings.extend(
        restricted_words(
            {"subject": subject, "html": body_text, "text": text},
            ctx.restricted_patterns,
            ctx.zones,
            ctx.values,
        )
    )
    return findings


def check_sms(
    text: str,
    info: SmsInfo,
    *,
    advertiser: str,
    opt_out: str,
    segment_limit: int,
    restricted_patterns: list[str] | None = None,
    zones: list[Zone] | None = None,
    values: dict[str, Any] | None = None,
) -> list[Finding]:
    findings: list[Finding] = []
    normalised = _norm(text)
    if not text.strip():
        findings.append(_finding("empty", ERROR, "sms", _("The SMS is empty.")))
    if not advertiser.strip() or _norm(advertiser) not in normalised:
        findings.append(
            _finding(
                "no_advertiser",
                ERROR,
                "sms",
                _("The SMS must name the advertiser (%(name)s)."),
                name=advertiser or "—",
            )
        )
    if not opt_out.strip() or _norm(opt_out) not in normalised:
        findings.append(
            _finding(
                "no_opt_out",
                ERROR,
                "sms",
                _("The SMS must include the opt-out mention “%(mention)s”."),
                mention=opt_out or "—",
            )
        )
    if info.segments > segment_limit:
        findings.append(
            _finding(
                "too_many_segments",
                WARNING,
                "sms",
                _("The SMS takes %(segments)s segments (%(encoding)s); the network's limit is %(limit)s."),
                segments=info.segments,
                encoding=info.encoding,
                limit=segment_limit,
            )
        )
    if info.encoding != "GSM-7" and info.non_gsm:
        findings.append(
            _finding(
                "ucs2",
                WARNING,
                "sms",
                _("These characters switch the SMS to UCS-2 (70 characters per segment): %(chars)s"),
                chars=" ".join(info.non_gsm),
            )
        )
    findings.extend(restricted_words({"sms": text}, restricted_patterns or [], zones or [], values or {}))
    return findings
