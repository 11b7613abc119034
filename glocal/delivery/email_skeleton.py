"""Per-recipient email messages from a byte skeleton built once per template version × store variant.

The creatives rendering compiles the MJML once per variant; what stays per recipient is small: the
recipient's fields, the one-click unsubscribe URL, the tracking reference. Re-rendering and re-encoding
~26 KB of HTML for every recipient (plus base64 line folding: ~170 µs per part on the reference
machine, and ``EmailMessage``: ~2 ms) dwarfs that. So, per variant:

1. the stage-2 HTML (creatives' stage 1 + MJML, the same HTML :func:`rendering.email_variant_template`
   compiles) and a stage-2 plain text (the text part rendered with per-recipient expressions kept, the
   braces of every printed value neutralised so that no value can become template source) are split
   into literal segments and ``{{ … }}`` expressions;
2. static ``http(s)`` links get one signed click token each (:func:`glocal.delivery.tokens.click_token`)
   and a per-recipient reference slot;
3. all literal segments are encoded once (UTF-8, CRLF) and the expressions are compiled into ONE small
   sandboxed template (creatives' :class:`SafeEnvironment`, limits included);

and per recipient: one small sandboxed render, a signed unsubscribe token, an HMAC reference, and a
join of bytes. Bodies are ``8bit`` (UTF-8, CRLF, no line over 998 octets: checked per variant); headers
are pre-encoded except To, Subject (when it names the recipient), Date, Message-ID and List-Unsubscribe.
:meth:`VariantMail.full_render` is the slow path (creatives' ``render_email`` as is), used when a part
cannot be split (a recipient field inside a ``{% … %}`` tag of the text part) and in tests as the oracle.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
import zlib
from dataclasses import dataclass, field
from email.utils import format_datetime
from html import unescape as html_unescape
from typing import Any

from django.conf import settings
from django.core import signing
from markupsafe import escape

from glocal.core.language import LANGUAGES_BY_COUNTRY, speaking
from glocal.creatives import rendering
from glocal.creatives.sandbox import Literal, RenderError, SafeEnvironment, compile_source, render

from . import tokens

SEP = "\x00"
OPEN, CLOSE = "\ue000", "\ue001"  # stand-ins for braces printed by stage 1 in the text part
REF_SLOT = "{{ _ref }}"
HREF = re.compile(r'href="(https?://[^"{}<>\s]+)"')
MAX_LINE = 998


_compiled: dict[tuple[int, str], Any] = {}


def compiled(env: SafeEnvironment, source: str) -> Any:
    """Compile once per template version (the same source for every store variant); bounded cache."""
    key = (id(env), hashlib.sha256(source.encode()).hexdigest())
    template = _compiled.get(key)
    if template is None:
        if len(_compiled) > 256:
            _compiled.clear()
        template = _compiled[key] = compile_source(env, source)
    return template


class CannotSplit(Exception):
    """A part needs a full per-recipient render (e.g. a recipient field inside a tag)."""


def _text_stage1_env() -> SafeEnvironment:
    env = SafeEnvironment(autoescape=False)
    env.add_filter("fallback", rendering.fallback)
    env.add_filter("price", rendering.price)
    env.add_filter("nl2br", lambda v: str(v or ""))

    def neutralise(value: Any) -> str:
        if isinstance(value, Literal):  # the template's own text (HQ's), kept as written
            return str(value)
        text = "" if value is None else str(value)
        text = text.replace(OPEN, "").replace(CLOSE, "")
        return text.replace("{", OPEN).replace("}", CLOSE)

    env.finalize = neutralise
    return env


TEXT_STAGE1 = _text_stage1_env()


def split_stage2(env: SafeEnvironment, source: str) -> tuple[list[str], list[str]]:
    """Literal strings and ``{{ … }}`` expressions of a stage-2 source (no tags allowed)."""
    literals: list[str] = []
    expressions: list[str] = []
    buffer: list[str] = []
    span: list[str] | None = None
    for _lineno, ttype, value in env.lex(source):
        if ttype == "variable_begin":
            span = [value]
            continue
        if span is not None:
            span.append(value)
            if ttype == "variable_end":
                expressions.append("".join(span))
                literals.append("".join(buffer))
                buffer, span = [], None
            continue
        if ttype not in ("data",):
            raise CannotSplit(ttype)
        buffer.append(value)
    literals.append("".join(buffer))
    if not env.keep_trailing_newline and literals[-1].endswith("\n"):
        literals[-1] = literals[-1][:-1]  # Jinja drops one trailing newline of a template
    return literals, expressions


ATTRIBUTE_GAP = re.compile(r' (?=[a-zA-Z][a-zA-Z0-9:-]*="[^"<>]*"[^<>]*>)')
FOLD_AT = 700
MAX_VALUE = 190  # a per-recipient value longer than this sends that message through the full render


def fold_html(html: str) -> str:
    """Lines over FOLD_AT characters are folded between the attributes of their tags (whitespace there
    is insignificant), so that no line of the 8bit body exceeds SMTP's 998 octets."""
    if all(len(line) <= FOLD_AT for line in html.split("\n")):
        return html
    return "\n".join(
        ATTRIBUTE_GAP.sub("\n", line) if len(line) > FOLD_AT else line for line in html.split("\n")
    )


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def _longest_line(data: bytes) -> int:
    return max((len(line) for line in data.split(b"\r\n")), default=0)


WORD_BYTES = 39  # UTF-8 bytes per RFC 2047 word: "=?utf-8?b?" + 52 base64 + "?=" = 64 characters (≤ 75)
LINE = 78  # RFC 5322's recommended line length (998 is the limit)
NAME_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
SPACE_END = re.compile(r"(?<= )")


def _words(text: str) -> list[str]:
    """RFC 2047 encoded-words (UTF-8, base64) of at most 64 characters, each of whole characters and
    cut after a space when one allows it (some decoders add a space between encoded-words)."""
    data = text.encode()
    chunks = [data]
    if len(data) > WORD_BYTES:
        chunks, chunk = [], b""
        for word in SPACE_END.split(text):
            encoded = word.encode()
            if len(chunk) + len(encoded) <= WORD_BYTES:
                chunk += encoded
                continue
            if chunk:
                chunks.append(chunk)
                chunk = b""
            for ch in word if len(encoded) > WORD_BYTES else (word,):
                piece = ch.encode()
                if len(chunk) + len(piece) > WORD_BYTES:
                    chunks.append(chunk)
                    chunk = b""
                chunk += piece
        chunks.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(c).decode()}?=" for c in chunks if c]


def _phrase(text: str) -> list[str]:
    """A header text as foldable tokens: its words when it is printable ASCII (no word over 60
    characters, nothing that looks like an encoded-word), else encoded-words."""
    if text.isascii() and text.isprintable() and "=?" not in text:
        words = text.split()
        if all(len(word) <= 60 for word in words):
            return words
    return _words(text)


def _fold(name: str, tokens: list[str]) -> str:
    """``Name: token token …``, folded (CRLF + space) before any token that would take the line past 78
    characters: with tokens of at most 64 characters every line stays within 78."""
    line, lines = f"{name}:", []
    for token in tokens:
        if len(line) + 1 + len(token) > LINE and len(line) > len(name) + 1:
            lines.append(line)
            line = ""
        line += " " + token
    lines.append(line if tokens else f"{name}: ")
    return "\r\n".join(lines)


def _header_value(value: str) -> str:
    if any(ch in value for ch in "\r\n\x00"):
        raise ValueError("header injection")
    return value


def _mailbox(name: str, address: str) -> list[str]:
    """A mailbox as foldable tokens: ``"Name" <address>``, encoded-words then ``<address>``, or the
    bare address."""
    _header_value(address)
    name = NAME_CONTROLS.sub("", name).strip()  # a display name is data: controls dropped
    if not name:
        return [address]
    if name.isascii() and len(name) <= 60 and re.fullmatch(r"[A-Za-z0-9 .'\-]+", name):
        return [f'"{name}"', f"<{address}>"]
    return [*_words(name), f"<{address}>"]


def content_language(variant: rendering.Variant, recipient: dict[str, Any] | None = None) -> str:
    """The language the message is written in (its ``lang``): the variant's (the recipient's, else the
    store's — :mod:`glocal.core.language`), else the store's own or its country's, else the
    organisation's, else the site's default."""
    for value in (
        variant.language,
        variant.store.get("language"),
        LANGUAGES_BY_COUNTRY.get(str(variant.store.get("country", "")).upper()),
        variant.organisation.get("language"),
        settings.LANGUAGE_CODE,
    ):
        if value and re.fullmatch(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*", str(value)):
            return str(value)
    return "fr"


UNDETERMINED = 'lang="und"'
EMPTY_TITLE = "<title></title>"


SIMPLE_LINK = re.compile(r"^\{\{-?\s*(unsubscribe_url|view_online_url)\s*-?\}\}$")
SIMPLE_FIELD = re.compile(
    r"""^\{\{-?\s*recipient\.([a-z_][a-z0-9_]*)\s*"""
    r"""(?:\|\s*fallback\(\s*(?:"([^"\\{}%]*)"|'([^'\\{}%]*)')\s*\)\s*)?-?\}\}$"""
)


def simple_getter(expression: str, html: bool) -> Any:
    """A direct evaluation of the commonest per-recipient expressions (``{{ unsubscribe_url }}``,
    ``{{ recipient.first_name }}``, ``{{ recipient.first_name|fallback("cher client") }}``), with the
    sandbox's exact semantics (missing → empty, ``fallback`` on empty, autoescape in HTML); ``None``
    for anything else, which the sandbox renders."""
    link = SIMPLE_LINK.match(expression)
    if link:
        name = link.group(1)
        if html:
            return lambda recipient, links: str(escape(links.get(name, "")))
        return lambda recipient, links: str(links.get(name, ""))
    found = SIMPLE_FIELD.match(expression)
    if not found:
        return None
    field_name, double, single = found.groups()
    default = double if double is not None else single

    def get(recipient: dict[str, Any], links: dict[str, str]) -> str:
        value = recipient.get(field_name) if isinstance(recipient, dict) else None
        if default is not None:
            value = rendering.fallback(value, default)
        text = "" if value is None else str(value)
        return str(escape(text)) if html else text

    return get


class FastSigner:
    """``django.core.signing.dumps(payload, salt=…, compress=True)``, byte for byte the same format
    (``loads`` reads it), with the HMAC key derived once instead of per token."""

    def __init__(self, salt: str) -> None:
        secret = settings.SECRET_KEY.encode() if isinstance(settings.SECRET_KEY, str) else settings.SECRET_KEY
        key = hashlib.sha256((salt + "signer").encode() + secret).digest()
        self._mac = hmac.new(key, digestmod=hashlib.sha256)
        self._second = -1
        self._stamp = ""

    def dumps(self, payload: list) -> str:
        data = json.dumps(payload, separators=(",", ":")).encode("latin-1")
        prefix = ""
        if len(data) > 80:  # shorter JSON never shrinks under zlib; loads() reads both forms
            compressed = zlib.compress(data)
            if len(compressed) < len(data) - 1:
                data, prefix = compressed, "."
        value = prefix + base64.urlsafe_b64encode(data).strip(b"=").decode()
        now = int(time.time())
        if now != self._second:
            self._second, self._stamp = now, signing.b62_encode(now)
        value = f"{value}:{self._stamp}"
        mac = self._mac.copy()
        mac.update(value.encode())
        return f"{value}:{base64.urlsafe_b64encode(mac.digest()).strip(b'=').decode()}"


@dataclass
class Sender:
    from_name: str
    from_address: str
    message_id_domain: str
    list_id: str
    reply_to: str = ""
    unsubscribe_mailto: str = ""


@dataclass
class _Part:
    literals: list[bytes]
    slots: list[int]  # per gap: index into the rendered values, or -1 for the tracking reference


@dataclass
class VariantMail:
    """The byte skeleton of one store variant's email; :meth:`build` makes one recipient's message."""

    variant: rendering.Variant
    sender: Sender
    public_url: str
    campaign: str
    organisation_id: int
    tracking_key: bytes
    tracked_links: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Stage 1 in the variant's language (the reader's), whatever the worker's active language: the
        # per-recipient path below prints values only.
        with speaking(self.variant.language):
            self._prepare()

    def _prepare(self) -> None:
        variant = self.variant
        self._unsubscribe = FastSigner(tokens.UNSUBSCRIBE_SALT)
        self._ref_mac = hmac.new(self.tracking_key, digestmod=hashlib.sha256)
        # The mailto unsubscribe address carries the message's own token (tokens.mailto_local_part).
        self._mailto_domain = _header_value(self.sender.unsubscribe_mailto).rpartition("@")[2]
        self._mailto_key = tokens.mailto_hmac(settings.SECRET_KEY)
        self.boundary = f"=_glocal_{secrets.token_hex(12)}"
        text_ctx = variant.context(html=False)
        # Subject and preheader: constant unless they name the recipient.
        self._subject = self._constant(variant.subject, text_ctx)
        self._preheader_const = self._constant(variant.preheader, text_ctx)
        # HTML: creatives' stage-2 source (stage 1 + MJML, compiled once), links tracked.
        stage1 = compiled(rendering.STAGE1_ENV, rendering.defer_recipient_expressions(variant.source))
        html = rendering.compile_mjml(render(stage1, variant.context(html=True)))
        self.lang = content_language(variant)
        html = html.replace(UNDETERMINED, f'lang="{self.lang}"')
        html = fold_html(self._add_pixel(self._track_links(html), REF_SLOT))
        expressions: list[str] = []
        try:
            html_literals, html_exprs = split_stage2(rendering.HTML_ENV, html)
            self._html: _Part | None = self._part(html_literals, html_exprs, expressions)
        except CannotSplit:
            self._html = None  # every message through the full render
        if self._html is not None and self._subject is not None:  # the title, after the split: data only
            title = self._title(self._subject)
            self._html.literals = [lit.replace(EMPTY_TITLE.encode(), title, 1) for lit in self._html.literals]
        # Preheader (per recipient) and text part: stage 1 with TEXT_STAGE1, then split.
        self._preheader: _Part | None = None
        if self._preheader_const is None and self._html is not None:
            try:
                self._preheader = self._text_part(variant.preheader, text_ctx, expressions)
            except (CannotSplit, RenderError):
                self._html = None
        try:
            self._text: _Part | None = self._text_part(variant.text, text_ctx, expressions)
        except (CannotSplit, RenderError):
            self._text = None
        # Each distinct expression once: the simple ones evaluated directly, the others in ONE
        # sandboxed template (HTML ones autoescaped, text ones not), split on a separator.
        self._getters: list[Any] = []
        self._sandboxed: list[int] = []
        html_sources: list[str] = []
        text_sources: list[str] = []
        for index, expression in enumerate(expressions):
            getter = simple_getter(expression[1:], html=expression[0] == "H")
            self._getters.append(getter)
            if getter is None:
                self._sandboxed.append(index)
                (html_sources if expression[0] == "H" else text_sources).append(expression[1:])
        self._sandboxed.sort(key=lambda i: expressions[i][0] != "H")  # HTML first, as in the source
        source = SEP.join(html_sources)
        if text_sources:
            source += (SEP if html_sources else "") + "{% autoescape false %}" + SEP.join(text_sources)
            source += "{% endautoescape %}"
        self._values = compiled(rendering.HTML_ENV, source) if self._sandboxed else None
        self._count = len(self._sandboxed)
        self._static = self._static_headers()
        self._base_context = {**variant.context(html=True)}
        self._text_fallback = None if self._text is not None else variant.text
        self._date_key: dt.datetime | None = None
        self._date_text = ""

    # -- per variant ------------------------------------------------------------------------------

    def _constant(self, source: str, ctx: dict[str, Any]) -> str | None:
        if not source.strip():
            return ""
        names = {value for _l, ttype, value in TEXT_STAGE1.lex(source) if ttype == "name"}
        if names & rendering.DEFERRED_NAMES:
            return None
        value = render(compiled(rendering.TEXT_ENV, source), ctx, max_output=1000)
        return " ".join(value.split())

    @staticmethod
    def _title(subject: str) -> bytes:
        return f"<title>{escape(subject[:200])}</title>".encode()

    def _track_links(self, html: str) -> str:
        unsubscribe_markers = ("{{", "}}")
        urls = sorted({m.group(1) for m in HREF.finditer(html)})
        for index, url in enumerate(urls):
            if any(marker in url for marker in unsubscribe_markers):
                continue
            # The attribute is HTML-escaped ("&amp;"); the redirect must go to the URL itself.
            target = html_unescape(url)
            token = tokens.click_token(message_id=f"{self.campaign}", link_index=index, url=target)
            self.tracked_links[url] = f"{self.public_url}/c/{token}?m="
        if not self.tracked_links:
            return html
        return HREF.sub(
            lambda m: (
                f'href="{self.tracked_links[m.group(1)]}{REF_SLOT}"'
                if m.group(1) in self.tracked_links
                else m.group(0)
            ),
            html,
        )

    def _add_pixel(self, html: str, ref: str) -> str:
        """The open pixel (``/o/REF.gif``) just before ``</body>``; opens are indicative only."""
        pixel = f'<img src="{self.public_url}/o/{ref}.gif" width="1" height="1" alt="" style="display:none">'
        head, sep, tail = html.rpartition("</body>")
        return f"{head}{pixel}{sep}{tail}" if sep else html + pixel

    def _part(self, literals: list[str], exprs: list[str], expressions: list[str], kind: str = "H") -> _Part:
        encoded = [_crlf(lit).encode() for lit in literals]
        if _longest_line(b"".join(encoded)) > MAX_LINE - 200:
            raise CannotSplit("long line")
        if any(self.boundary.encode() in lit for lit in encoded):
            raise CannotSplit("boundary")
        slots = []
        for expr in exprs:
            if expr.replace(" ", "") == REF_SLOT.replace(" ", ""):
                slots.append(-1)
                continue
            key = kind + expr
            if key not in expressions:
                expressions.append(key)
            slots.append(expressions.index(key))
        return _Part(encoded, slots)

    def _text_part(self, source: str, ctx: dict[str, Any], expressions: list[str]) -> _Part:
        stage1 = compiled(TEXT_STAGE1, rendering.defer_recipient_expressions(source, env=TEXT_STAGE1))
        stage2 = render(stage1, ctx)
        literals, exprs = split_stage2(rendering.TEXT_ENV, stage2)
        literals = [lit.replace(OPEN, "{").replace(CLOSE, "}") for lit in literals]
        return self._part(literals, exprs, expressions, kind="T")

    def _static_headers(self) -> bytes:
        s = self.sender
        lines = [_fold("From", _mailbox(s.from_name, s.from_address))]
        if s.reply_to:
            lines.append(_fold("Reply-To", _mailbox("", s.reply_to)))
        lines += [
            f"List-Id: <{_header_value(s.list_id)}>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        ]
        if self._subject is not None:
            lines.append(_fold("Subject", _phrase(self._subject)))
        lines += ["MIME-Version: 1.0", f'Content-Type: multipart/alternative;\r\n boundary="{self.boundary}"']
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    # -- per recipient ----------------------------------------------------------------------------

    def signed_ref(self, message_id: str) -> str:
        """``message_id`` with its MAC (``glocal.delivery.tracking.make_ref``): the Message-ID's local
        part, so that a bounce or complaint report naming it can be trusted (never a guessable id)."""
        mac = self._ref_mac.copy()
        mac.update(message_id.encode())
        return f"{message_id}.{mac.hexdigest()[:16]}"

    def links(self, recipient: dict[str, Any], message_id: str) -> tuple[dict[str, str], str]:
        token = self._unsubscribe.dumps([int(recipient["id"]), self.organisation_id, "email", message_id])
        mac = self._ref_mac.copy()
        mac.update(message_id.encode())
        ref = f"{message_id}.{mac.hexdigest()[:16]}"
        return {
            "unsubscribe_url": f"{self.public_url}/u/{token}/",
            "view_online_url": f"{self.public_url}/v/{ref}/",
        }, ref

    @staticmethod
    def _join(part: _Part, values: list[bytes], ref: bytes) -> bytes:
        out: list[bytes] = [part.literals[0]]
        for slot, literal in zip(part.slots, part.literals[1:], strict=True):
            out.append(ref if slot < 0 else values[slot])
            out.append(literal)
        return b"".join(out)

    def build(self, recipient: dict[str, Any], *, date: dt.datetime | None = None) -> bytes:
        message_id = f"{self.campaign}-{recipient['id']}"
        links, ref = self.links(recipient, message_id)
        if self._html is None:
            return self._full_message(recipient, message_id, links, ref, date)
        texts: list[str] = [getter(recipient, links) if getter else "" for getter in self._getters]
        if self._values is not None:
            context = {**self._base_context, "recipient": recipient, **links}
            rendered = render(self._values, context, max_output=100_000).split(SEP)
            if len(rendered) != self._count:  # a value held the separator: render this one in full
                return self._full_message(recipient, message_id, links, ref, date)
            for index, value in zip(self._sandboxed, rendered, strict=True):
                texts[index] = value
        values = [_crlf(v).encode() if "\n" in v or "\r" in v else v.encode() for v in texts]
        if any(len(v) > MAX_VALUE for v in values):  # keeps every line under 998 octets
            return self._full_message(recipient, message_id, links, ref, date)
        ref_bytes = ref.encode()
        html = self._join(self._html, values, ref_bytes)
        if self._preheader is not None:
            pre = " ".join(self._join(self._preheader, values, ref_bytes).decode().split())
        else:
            pre = self._preheader_const or ""
        if pre:
            hidden = (
                '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all" aria-hidden="true">'
                f"{escape(pre)}</div>"
            ).encode()
            body = html.find(b"<body")
            end = html.find(b">", body) + 1 if body >= 0 else 0
            if end:  # just after <body …> (a plain search: this runs for every recipient)
                html = html[:end] + hidden + html[end:]
        if self._text is not None:
            plain = self._join(self._text, values, ref_bytes).strip()
        else:
            plain = _crlf(self.full_render(recipient, links).text).encode()
        subject = None
        if self._subject is None:
            subject = self.full_render(recipient, links).subject
            html = html.replace(EMPTY_TITLE.encode(), self._title(subject), 1)
        return self._assemble(recipient, message_id, links, subject, plain, html, date)

    def _assemble(
        self,
        recipient: dict[str, Any],
        message_id: str,
        links: dict[str, str],
        subject: str | None,
        text: bytes,
        html: bytes,
        date: dt.datetime | None,
    ) -> bytes:
        name = f"{recipient.get('first_name', '')} {recipient.get('last_name', '')}".strip()
        unsubscribe = f"<{links['unsubscribe_url']}>"
        if self._mailto_domain:
            mac = tokens.mailto_mac(self._mailto_key, message_id)
            unsubscribe += f",\r\n <mailto:unsubscribe+{message_id}.{mac}@{self._mailto_domain}>"
        when = date or dt.datetime.now(dt.UTC).replace(microsecond=0)
        if when != self._date_key:
            self._date_key, self._date_text = when, format_datetime(when)
        head = (
            f"Date: {self._date_text}\r\n"
            f"{_fold('To', _mailbox(name, recipient['email']))}\r\n"
            + (f"{_fold('Subject', _phrase(subject))}\r\n" if subject is not None else "")
            + f"Message-ID: <{self.signed_ref(message_id)}@{self.sender.message_id_domain}>\r\n"
            f"List-Unsubscribe: {unsubscribe}\r\n"
        ).encode()
        b = self.boundary.encode()
        part = b"Content-Type: text/%s; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        return b"".join(
            (head, self._static, b"--", b, b"\r\n", part % b"plain", text, b"\r\n--", b, b"\r\n",
             part % b"html", html, b"\r\n--", b, b"--\r\n")
        )  # fmt: skip

    def full_render(self, recipient: dict[str, Any], links: dict[str, str]) -> rendering.Rendered:
        return rendering.render_email(self.variant, recipient, links)

    def tracked_html(self, html: str, ref: str, subject: str | None = None) -> str:
        """The oracle's HTML with the same language, title, link tracking and open pixel."""
        title = subject if subject is not None else self._subject or ""
        html = html.replace(UNDETERMINED, f'lang="{self.lang}"')
        html = html.replace(EMPTY_TITLE, self._title(title).decode(), 1)
        html = self._add_pixel(html, ref)
        return HREF.sub(
            lambda m: (
                f'href="{self.tracked_links[m.group(1)]}{ref}"'
                if m.group(1) in self.tracked_links
                else m.group(0)
            ),
            html,
        )

    def _full_message(
        self,
        recipient: dict[str, Any],
        message_id: str,
        links: dict[str, str],
        ref: str,
        date: dt.datetime | None,
    ) -> bytes:
        rendered = self.full_render(recipient, links)
        html = _crlf(fold_html(self.tracked_html(rendered.html, ref, rendered.subject))).encode()
        subject = None if self._subject is not None else rendered.subject
        return self._assemble(
            recipient, message_id, links, subject, _crlf(rendered.text).encode(), html, date
        )
