"""Email over SMTP: fast RFC 5322 messages from a per-campaign × store skeleton, pooled connections.

- :class:`MessageSkeleton` pre-encodes everything that is the same for every recipient of a campaign ×
  store variant (From with the store's sender name, Reply-To, List-Id, List-Unsubscribe-Post, MIME
  headers); :meth:`MessageSkeleton.build` only encodes the per-recipient parts (To, Subject, Date, a stable
  Message-ID derived from the message's stable id, List-Unsubscribe with the recipient's one-click URL,
  and the two bodies) and joins bytes — no ``email.message.EmailMessage`` on the hot path. Bodies are
  UTF-8 in base64 (C-speed, 7-bit safe, and no line can start with "." so no dot-stuffing is needed).
- Header values containing CR, LF or NUL are refused (:class:`HeaderInjection`), never cleaned.
- :class:`SmtpConnection` keeps one smtplib connection for many messages (reconnects when the server
  dropped an idle connection, and after ``max_messages`` messages); :class:`SmtpPool` shares N of them
  between threads. Errors become :class:`~glocal.delivery.transports.base.TransportError`: 4xx →
  temporary, 5xx → permanent (classified by :mod:`glocal.delivery.bounces`), and a connection lost after
  the final "." of DATA → ``unknown_outcome`` (the message may have been delivered: count a possible
  duplicate, do not silently resend).
- :func:`rate_limiter` is the client-side rate limit per provider account, shared by every process
  through the shared cache (:class:`glocal.core.ratelimit.SharedRateLimiter`); :class:`TokenBucket` is
  the same limit inside one process only (for a single connection, and the tests).

- 8BITMIME (RFC 6152): the dispatcher's bodies are ``8bit`` (UTF-8). :meth:`SmtpConnection.send_bytes`
  announces them with ``MAIL FROM:<…> BODY=8BITMIME`` when the server's EHLO offers it; otherwise it
  sends a 7-bit form (:func:`seven_bit`: each ``8bit`` part re-encoded quoted-printable) — and the DKIM
  signature (``sign=``) is computed over the form actually sent, so no relay has to downgrade it.
- Optional DKIM signing with dkimpy (:class:`DkimKey`): rsa-sha256, relaxed/relaxed, covering From, To,
  Subject, Date, Message-ID, Reply-To, List-Id, List-Unsubscribe, List-Unsubscribe-Post, MIME-Version and
  Content-Type, as Gmail and Yahoo require of bulk senders (COMPLIANCE.md asks for 2048-bit keys).
"""

from __future__ import annotations

import binascii
import datetime as dt
import queue
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Protocol

from glocal.core.ratelimit import SharedRateLimiter
from glocal.delivery.bounces import classify_smtp
from glocal.delivery.transports.base import TransportError

SAFE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$")
BASE64_LINE_RE = re.compile(rb".{1,76}", re.DOTALL)
LOCAL_PART_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]+$")
DOMAIN_RE = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)+$"
)
ATEXT_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+$")
HEADER_INJECTION = "CR, LF or NUL in an email header value"
UNKNOWN_OUTCOME = "connection lost after the final '.': the message may have been delivered"


class HeaderInjection(ValueError):
    pass


def _clean(value: str) -> str:
    if any(ch in value for ch in "\r\n\x00"):
        raise HeaderInjection(HEADER_INJECTION)
    return value


def _encoded_words(text: str) -> str:
    """RFC 2047 encoded words (UTF-8, base64), folded; plain text when it is printable ASCII."""
    _clean(text)
    if text.isascii() and text.isprintable() and len(text) < 900:
        return text
    words, chunk = [], ""
    for ch in text:  # ≤ 39 bytes of UTF-8 per word: a header line with its name stays under 78
        if len((chunk + ch).encode()) > 39:
            words.append(chunk)
            chunk = ""
        chunk += ch
    words.append(chunk)
    return "\r\n ".join(
        f"=?utf-8?b?{binascii.b2a_base64(w.encode(), newline=False).decode()}?=" for w in words
    )


def _ascii_address(address: str) -> str:
    """A plain ASCII ``local@domain`` (IDNA domain); anything else raises ``ValueError`` — which also keeps
    the SMTP envelope free of injected parameters ("a@b.example> NOTIFY=…")."""
    _clean(address)
    local, sep, domain = address.strip().rpartition("@")
    if not sep or not local.isascii() or not LOCAL_PART_RE.match(local):
        raise ValueError(f"not a plain ASCII email address (SMTPUTF8 is not supported): {address!r}")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise ValueError(f"not an email domain: {address!r}") from error
    if not DOMAIN_RE.match(domain):
        raise ValueError(f"not an email domain: {address!r}")
    return f"{local}@{domain}"


def _mailbox(name: str, address: str) -> str:
    address = _ascii_address(address)
    _clean(name)
    if not name:
        return address
    if name.isascii() and name.isprintable():
        if not all(ATEXT_RE.match(word) for word in name.split(" ") if word):
            name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{name} <{address}>"
    return f"{_encoded_words(name)} <{address}>"


def _b64_body(text: str) -> bytes:
    if "\r\n" not in text:
        text = text.replace("\n", "\r\n")
    data = binascii.b2a_base64(text.encode("utf-8"), newline=False)
    return b"\r\n".join(BASE64_LINE_RE.findall(data))  # 76-character lines (RFC 2045), split in C


DKIM_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"reply-to", b"list-id", b"list-unsubscribe",
    b"list-unsubscribe-post", b"mime-version", b"content-type",
)  # fmt: skip


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes((tag, size)) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + body


def _der_int(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


RSA_ALGORITHM = _der(0x30, _der(0x06, bytes.fromhex("2a864886f70d010101")) + _der(0x05, b""))


def dkim_public_key(private_key_pem: bytes) -> tuple[str, int]:
    """The ``p=`` value of the DKIM DNS record (base64 of the DER SubjectPublicKeyInfo) for a PEM RSA
    private key, and the key's size in bits. ``ValueError`` when it is not an RSA key."""
    from dkim.crypto import UnparsableKeyError, parse_pem_private_key

    try:
        key = parse_pem_private_key(private_key_pem.replace(b"\r\n", b"\n"))
    except (UnparsableKeyError, ValueError, TypeError, IndexError) as error:
        raise ValueError(f"not a PEM RSA private key ({error})") from error
    modulus, exponent = int(key["modulus"]), int(key["publicExponent"])
    rsa = _der(0x30, _der_int(modulus) + _der_int(exponent))
    spki = _der(0x30, RSA_ALGORITHM + _der(0x03, b"\x00" + rsa))
    return binascii.b2a_base64(spki, newline=False).decode(), modulus.bit_length()


@dataclass(frozen=True)
class DkimKey:
    """A DKIM signing key: ``d=domain``, ``s=selector``, PEM private key (RSA, 2048-bit or more)."""

    domain: str
    selector: str
    private_key_pem: bytes

    def sign(self, message: bytes) -> bytes:
        """The ``DKIM-Signature`` header line(s) for ``message`` (to put in front of it)."""
        import dkim  # dkimpy; imported here so that a deployment without DKIM never loads it

        return dkim.sign(
            message,
            self.selector.encode(),
            self.domain.encode(),
            self.private_key_pem,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=list(DKIM_HEADERS),
            linesep=b"\r\n",
        )


@dataclass(frozen=True)
class OutgoingEmail:
    """One rendered message. ``stable_id`` is the outbox row's stable id (also the provider idempotency
    key); ``envelope_from`` is the bounce address (default: the skeleton's)."""

    stable_id: str
    to_address: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str
    to_name: str = ""
    envelope_from: str | None = None


class MessageSkeleton:
    """The parts of a message shared by every recipient of one campaign × store variant."""

    def __init__(
        self,
        *,
        from_name: str,
        from_address: str,
        message_id_domain: str,
        list_id: str,
        list_name: str = "",
        reply_to: str | None = None,
        reply_to_name: str = "",
        unsubscribe_mailto: str | None = None,
        bounce_address: str | None = None,
        dkim: DkimKey | None = None,
    ) -> None:
        self.dkim = dkim
        self.from_address = _ascii_address(from_address)
        self.bounce_address = _ascii_address(bounce_address) if bounce_address else self.from_address
        self.domain = _clean(message_id_domain).encode("idna").decode("ascii")
        self.unsubscribe_mailto = _ascii_address(unsubscribe_mailto) if unsubscribe_mailto else None
        list_value = f"<{_clean(list_id)}>"
        if list_name:
            list_value = f"{_encoded_words(list_name)} {list_value}"
        lines = [f"From: {_mailbox(from_name, from_address)}"]
        if reply_to:
            lines.append(f"Reply-To: {_mailbox(reply_to_name, reply_to)}")
        lines += [
            f"List-Id: {list_value}",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            "MIME-Version: 1.0",
        ]
        self._static = ("\r\n".join(lines) + "\r\n").encode("ascii")

    def message_id(self, stable_id: str) -> str:
        if not SAFE_ID_RE.match(stable_id):
            raise ValueError(f"unsafe stable id for a Message-ID: {stable_id!r}")
        return f"<{stable_id}@{self.domain}>"

    def build(self, message: OutgoingEmail, *, date: dt.datetime | None = None) -> bytes:
        """The RFC 5322 bytes (CRLF line ends) of ``message``."""
        url = _clean(message.unsubscribe_url)
        if not url.startswith("https://") or any(ch in url for ch in "<>, "):
            raise ValueError("the one-click unsubscribe URL must be an https URL without <>, or spaces")
        unsubscribe = f"<{url}>"
        if self.unsubscribe_mailto:
            unsubscribe += f",\r\n <mailto:{self.unsubscribe_mailto}?subject=unsubscribe>"
        boundary = f"=_glocal_{message.stable_id}"
        head = (
            f"Date: {format_datetime(date or dt.datetime.now(dt.UTC))}\r\n"
            f"To: {_mailbox(message.to_name, message.to_address)}\r\n"
            f"Subject: {_encoded_words(message.subject)}\r\n"
            f"Message-ID: {self.message_id(message.stable_id)}\r\n"
            f"List-Unsubscribe: {unsubscribe}\r\n"
        ).encode("ascii")
        part_head = "Content-Type: text/{}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        data = b"".join(
            (
                head,
                self._static,
                f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode(),
                f"--{boundary}\r\n".encode(),
                part_head.format("plain").encode(),
                _b64_body(message.text),
                f"\r\n--{boundary}\r\n".encode(),
                part_head.format("html").encode(),
                _b64_body(message.html),
                f"\r\n--{boundary}--\r\n".encode(),
            )
        )
        return self.dkim.sign(data) + data if self.dkim else data


# --- 8BITMIME or a 7-bit form ----------------------------------------------------------------------

CTE_8BIT = re.compile(rb"(?im)^Content-Transfer-Encoding:[ \t]*8bit[ \t]*$")
BOUNDARY_RE = re.compile(rb'(?i)\bboundary="?([^"\r\n;]+)"?')


def seven_bit(data: bytes) -> bytes:
    """``data`` with every ``Content-Transfer-Encoding: 8bit`` part re-encoded quoted-printable (RFC 2045,
    lines ≤ 76), for a server that does not offer 8BITMIME. Parts already 7-bit are left as they are."""
    head, sep, body = data.partition(b"\r\n\r\n")
    found = BOUNDARY_RE.search(head)
    if found is None:  # a single-part message
        if CTE_8BIT.search(head):
            head = CTE_8BIT.sub(b"Content-Transfer-Encoding: quoted-printable", head)
            body = binascii.b2a_qp(body, istext=True)
        return head + sep + body
    delimiter = b"--" + found.group(1)
    pieces = body.split(delimiter)
    for index in range(1, len(pieces)):
        piece = pieces[index]
        if piece.startswith(b"--"):
            continue  # the close delimiter and the epilogue
        part_head, part_sep, content = piece.partition(b"\r\n\r\n")
        if not part_sep or not CTE_8BIT.search(part_head):
            continue
        tail = b"\r\n" if content.endswith(b"\r\n") else b""  # the CRLF before the next delimiter
        content = content[: len(content) - len(tail)]
        encoded = binascii.b2a_qp(content, istext=True)
        if b"\r\n" not in content:  # a one-line body: b2a_qp's line ends follow the input's
            encoded = encoded.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")
        part_head = CTE_8BIT.sub(b"Content-Transfer-Encoding: quoted-printable", part_head)
        pieces[index] = part_head + part_sep + encoded + tail
    return head + sep + delimiter.join(pieces)


# --- Rate limit ----------------------------------------------------------------------------------------


class TokenBucket:
    """``rate`` messages per second on average, bursts of up to ``burst``. Thread-safe.

    ``clock`` and ``sleep`` are injectable so tests run without waiting.
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst ≥ 1")
        self.rate, self.burst = rate, burst
        self._clock, self._sleep = clock, sleep
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def try_acquire(self) -> float:
        """Take a token if one is there (returns 0.0), else return the seconds to wait (nothing taken)."""
        with self._lock:
            self._refill()
            if self._tokens >= 1 - 1e-9:  # tolerance: a refill computed in floats may land at 0.99999…
                self._tokens = max(0.0, self._tokens - 1)
                return 0.0
            return (1 - self._tokens) / self.rate

    def acquire(self) -> None:
        while (wait := self.try_acquire()) > 0:
            self._sleep(wait)


class Limiter(Protocol):
    """What a transport needs of a rate limit: :class:`TokenBucket` (one process) or
    :class:`glocal.core.ratelimit.SharedRateLimiter` (every process sharing the cache)."""

    def try_acquire(self) -> float: ...

    def acquire(self) -> None: ...


_LIMITERS: dict[str, SharedRateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def rate_limiter(account: str, rate: float, burst: int = 1) -> SharedRateLimiter:
    """The limiter of one provider account, shared by every process and machine through the shared cache
    (Redis or the database: ``glocal.core.ratelimit``): two workers together send at ``rate``, not
    twice it. One object per account in a process (same key → same limiter), which remembers locally
    that the current window is full and waits for the next without asking the cache again."""
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(account)
        if limiter is None or (limiter.rate, limiter.burst) != (rate, burst):
            limiter = _LIMITERS[account] = SharedRateLimiter(f"send:{account}", rate, burst)
        return limiter


# --- SMTP ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    username: str = ""
    password: str = ""
    starttls: bool = False
    ssl: bool = False
    timeout: float = 30.0
    max_messages: int = 1000  # per connection, then QUIT and reconnect
    local_hostname: str | None = None


@dataclass(frozen=True)
class Sent:
    message_id: str
    code: int
    response: str


def _error_from_reply(stage: str, code: int, response: bytes | str) -> TransportError:
    text = response.decode("utf-8", "replace") if isinstance(response, bytes) else response
    verdict = classify_smtp(code, text)
    return TransportError(
        f"{stage}: {code} {text}", permanent=verdict.permanent, code=code, enhanced=verdict.enhanced
    )


class SmtpConnection:
    """One reusable SMTP connection; not thread-safe: one per thread, or borrowed from a :class:`SmtpPool`."""

    def __init__(self, settings: SmtpSettings, *, limiter: Limiter | None = None) -> None:
        self.settings = settings
        self.limiter = limiter
        self._smtp: smtplib.SMTP | None = None
        self._sent_on_connection = 0
        self.connections_opened = 0

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            smtp: smtplib.SMTP
            if s.ssl:
                smtp = smtplib.SMTP_SSL(
                    s.host, s.port, local_hostname=s.local_hostname, timeout=s.timeout,
                    context=ssl.create_default_context(),
                )  # fmt: skip
            else:
                smtp = smtplib.SMTP(s.host, s.port, local_hostname=s.local_hostname, timeout=s.timeout)
            if smtp.sock is not None:  # small commands must not wait for delayed ACKs (Nagle)
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, s.password)
        except smtplib.SMTPAuthenticationError as error:
            raise TransportError(
                f"SMTP login refused: {error.smtp_code}", permanent=True, code=error.smtp_code
            ) from error
        except smtplib.SMTPResponseException as error:
            raise _error_from_reply("connect", error.smtp_code, error.smtp_error) from error
        except (OSError, smtplib.SMTPException) as error:
            raise TransportError(f"cannot connect to {s.host}:{s.port}: {error}") from error
        self.connections_opened += 1
        self._sent_on_connection = 0
        return smtp

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _rset(self, smtp: smtplib.SMTP) -> None:
        try:
            code, _resp = smtp.rset()
            if code != 250:
                self._drop()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _envelope(self, smtp: smtplib.SMTP, envelope_from: str, recipient: str, body: str = "") -> None:
        """MAIL FROM (with ``body``: " BODY=8BITMIME" or ""), RCPT TO and DATA — in one write when the
        server offers PIPELINING (RFC 2920) — up to the 354 reply; a refusal raises
        :class:`TransportError` and leaves the connection reset."""
        commands = (f"MAIL FROM:<{envelope_from}>{body}", f"RCPT TO:<{recipient}>", "DATA")
        replies: list[tuple[int, bytes]] = []
        if smtp.does_esmtp and smtp.has_extn("pipelining"):
            smtp.send(("\r\n".join(commands) + "\r\n").encode("ascii"))
            replies = [smtp.getreply() for _ in commands]
        else:
            for command in commands:
                smtp.send((command + "\r\n").encode("ascii"))
                replies.append(smtp.getreply())
                if replies[-1][0] not in (250, 251, 354):
                    break
        for stage, accepted, (code, resp) in zip(
            ("MAIL FROM", "RCPT TO", "DATA"), ((250,), (250, 251), (354,)), replies, strict=False
        ):
            if code not in accepted:
                if len(replies) == 3 and replies[2][0] == 354:  # DATA opened despite a refusal: close it
                    smtp.send(b".\r\n")
                    smtp.getreply()
                self._rset(smtp)
                raise _error_from_reply(stage, code, resp)

    def send_bytes(
        self,
        *,
        envelope_from: str,
        recipient: str,
        data: bytes,
        message_id: str,
        sign: Callable[[bytes], bytes] | None = None,
    ) -> Sent:
        """Send one message. 8-bit data goes with ``BODY=8BITMIME`` when the server offers it, else in
        its 7-bit form (:func:`seven_bit`); ``sign(form) -> header lines`` (e.g. :meth:`DkimKey.sign`)
        signs the form actually sent. Raises :class:`TransportError` (see the module docstring)."""
        if self.limiter is not None:
            self.limiter.acquire()
        if self._smtp is not None and self._sent_on_connection >= self.settings.max_messages:
            self.close()
        eight_bit = not data.isascii()
        forms: dict[bool, bytes] = {}
        for attempt in (1, 2):
            fresh = self._smtp is None
            if self._smtp is None:
                self._smtp = self._connect()
            smtp = self._smtp
            as_8bit = eight_bit and smtp.has_extn("8bitmime")
            if as_8bit not in forms:
                form = data if as_8bit or not eight_bit else seven_bit(data)
                forms[as_8bit] = sign(form) + form if sign is not None else form
            payload = forms[as_8bit]
            try:
                self._envelope(smtp, envelope_from, recipient, " BODY=8BITMIME" if as_8bit else "")
            except (smtplib.SMTPServerDisconnected, OSError) as error:
                self._drop()
                if attempt == 1 and not fresh:
                    continue  # the server closed an idle connection: reconnect once, nothing was sent
                raise TransportError(f"connection lost before DATA: {error}") from error
            break
        data = payload
        try:
            if data.startswith(b".") or b"\n." in data:  # dot-stuffing (RFC 5321 §4.5.2)
                data = re.sub(rb"(?m)^\.", b"..", data)
            smtp.send(data + (b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"))  # one write
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            self._drop()  # before the final ".": the server cannot have accepted the message
            raise TransportError(f"connection lost before the end of DATA: {error}") from error
        try:
            code, resp = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as error:  # TimeoutError is an OSError
            self._drop()
            raise TransportError(UNKNOWN_OUTCOME, unknown_outcome=True) from error
        if code != 250:
            self._rset(smtp)
            raise _error_from_reply("end of DATA", code, resp)
        self._sent_on_connection += 1
        return Sent(message_id, code, resp.decode("utf-8", "replace"))

    def send(
        self, skeleton: MessageSkeleton, message: OutgoingEmail, *, date: dt.datetime | None = None
    ) -> Sent:
        data = skeleton.build(message, date=date)
        return self.send_bytes(
            envelope_from=_ascii_address(message.envelope_from)
            if message.envelope_from
            else skeleton.bounce_address,
            recipient=_ascii_address(message.to_address),
            data=data,
            message_id=skeleton.message_id(message.stable_id),
        )

    def __enter__(self) -> SmtpConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SmtpPool:
    """Up to ``size`` reusable connections shared between threads (LIFO: warm connections first)."""

    def __init__(self, settings: SmtpSettings, size: int = 4, *, limiter: Limiter | None = None) -> None:
        self.settings = settings
        self._idle: queue.LifoQueue[SmtpConnection] = queue.LifoQueue()
        for _ in range(size):
            self._idle.put(SmtpConnection(settings, limiter=limiter))
        self._all = list(self._idle.queue)

    @contextmanager
    def connection(self) -> Iterator[SmtpConnection]:
        conn = self._idle.get()
        try:
            yield conn
        finally:
            self._idle.put(conn)

    def send(self, skeleton: MessageSkeleton, message: OutgoingEmail) -> Sent:
        with self.connection() as conn:
            return conn.send(skeleton, message)

    @property
    def connections_opened(self) -> int:
        return sum(c.connections_opened for c in self._all)

    def close(self) -> None:
        for conn in self._all:
            conn.close()
