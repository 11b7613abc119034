"""SMTP transport against a real (aiosmtpd) server: pooled connections, RFC 5322 headers, faults."""

from __future__ import annotations

import datetime as dt
import email
import threading
from email import policy
from pathlib import Path

import dkim
import pytest

from glocal.delivery.transports.base import TransportError
from glocal.delivery.transports.email_smtp import (
    HEADER_INJECTION,
    UNKNOWN_OUTCOME,
    DkimKey,
    HeaderInjection,
    MessageSkeleton,
    OutgoingEmail,
    SmtpConnection,
    SmtpPool,
    SmtpSettings,
    TokenBucket,
    rate_limiter,
)

DATE = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
HTML = (
    "<html><body><p>Bonjour Jeanne, la foire aux vins commence !</p>\n<p>.dot at line start</p></body></html>"
)


def skeleton(**overrides):
    values = {
        "from_name": "Magasin A — Lille",
        "from_address": "magasin-a@mail.maison-test.example",
        "message_id_domain": "mail.maison-test.example",
        "list_id": "store-a.campaign-12.maison-test.example",
        "list_name": "Foire aux vins",
        "reply_to": "contact@magasin-a.example",
        "reply_to_name": "Magasin A",
        "unsubscribe_mailto": "unsubscribe@mail.maison-test.example",
        "bounce_address": "bounces@mail.maison-test.example",
    }
    return MessageSkeleton(**(values | overrides))


def outgoing(i: int = 1, to: str = "jeanne@example.com", **overrides):
    values = {
        "stable_id": f"m-12-{i:06d}",
        "to_address": to,
        "to_name": "Jeanne Dupré",
        "subject": "Foire aux vins : -20 % ce week-end",
        "text": "Bonjour Jeanne,\nla foire aux vins commence !\n.dot\n",
        "html": HTML,
        "unsubscribe_url": f"https://glocal.example/u/tok{i}",
    }
    return OutgoingEmail(**(values | overrides))


def settings_for(server, **overrides):
    return SmtpSettings(**({"host": "127.0.0.1", "port": server.port, "timeout": 5} | overrides))


def test_message_headers_are_rfc5322_and_rfc8058():
    raw = skeleton().build(outgoing(), date=DATE)
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["From"].addresses[0].display_name == "Magasin A — Lille"
    assert msg["From"].addresses[0].addr_spec == "magasin-a@mail.maison-test.example"
    assert msg["Reply-To"].addresses[0].addr_spec == "contact@magasin-a.example"
    assert msg["To"].addresses[0].display_name == "Jeanne Dupré"
    assert str(msg["Subject"]) == "Foire aux vins : -20 % ce week-end"
    assert msg["Date"].datetime == DATE
    assert msg["Message-ID"] == "<m-12-000001@mail.maison-test.example>"
    assert msg["List-Id"].endswith("<store-a.campaign-12.maison-test.example>")
    assert msg["List-Unsubscribe"].replace("\r\n", "") == (
        "<https://glocal.example/u/tok1>, <mailto:unsubscribe@mail.maison-test.example?subject=unsubscribe>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.iter_parts()
    assert text.get_content() == "Bonjour Jeanne,\r\nla foire aux vins commence !\r\n.dot\r\n"
    assert html.get_content_type() == "text/html" and html.get_content() == HTML.replace("\n", "\r\n")


def test_message_id_is_stable_and_unique():
    sk = skeleton()
    first = email.message_from_bytes(sk.build(outgoing(1)), policy=policy.default)["Message-ID"]
    again = email.message_from_bytes(sk.build(outgoing(1)), policy=policy.default)["Message-ID"]
    other = email.message_from_bytes(sk.build(outgoing(2)), policy=policy.default)["Message-ID"]
    assert first == again != other
    with pytest.raises(ValueError):
        sk.message_id("bad id>")


@pytest.mark.parametrize(
    "overrides",
    [
        {"subject": "Promo\r\nBcc: victim@example.com"},
        {"to_name": "Jeanne\nBcc: x@example.com"},
        {"to_address": "jeanne@example.com\r\nBcc: x@example.com"},
        {"unsubscribe_url": "https://glocal.example/u/x\r\nX: y"},
        {"subject": "nul\x00byte"},
    ],
)
def test_cr_lf_in_any_header_value_is_rejected(overrides):
    with pytest.raises(HeaderInjection, match=HEADER_INJECTION):
        skeleton().build(outgoing(**overrides))


def test_cr_lf_in_skeleton_values_is_rejected():
    with pytest.raises(HeaderInjection):
        skeleton(from_name="Magasin\r\nBcc: x@example.com")
    with pytest.raises(HeaderInjection):
        skeleton(list_id="a\nb")


def test_long_subject_is_folded_and_names_with_specials_are_quoted():
    long_subject = "Très " * 60
    sk = skeleton(from_name='Magasin "A", Lille', reply_to=None)
    raw = sk.build(outgoing(subject=long_subject))
    assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n")[0].split(b"\r\n") if b"Subject" in line)
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert str(msg["Subject"]) == long_subject
    assert msg["From"].addresses[0].display_name == 'Magasin "A", Lille'
    assert msg["Reply-To"] is None


def test_pooled_connection_sends_many_messages_over_one_connection(faulty_smtp):
    sk = skeleton()
    with SmtpConnection(settings_for(faulty_smtp)) as conn:
        sent = [conn.send(sk, outgoing(i, to=f"c{i}@example.com")) for i in range(25)]
    assert conn.connections_opened == 1 and faulty_smtp.ehlos == 1
    assert [s.code for s in sent] == [250] * 25
    messages = faulty_smtp.messages()
    assert [m["Message-ID"] for m in messages] == [s.message_id for s in sent]
    mail_from, rcpts, _raw = faulty_smtp.received[0]
    assert mail_from == "bounces@mail.maison-test.example" and rcpts == ["c0@example.com"]
    # the body line starting with "." arrived intact (dot-stuffing or base64)
    assert messages[0].get_body(("plain",)).get_content().endswith(".dot\r\n")


def test_reconnects_after_max_messages_and_after_an_idle_drop(faulty_smtp):
    sk = skeleton()
    with SmtpConnection(settings_for(faulty_smtp, max_messages=10)) as conn:
        for i in range(25):
            conn.send(sk, outgoing(i))
        assert conn.connections_opened == 3
        faulty_smtp.close_after_each = True  # the server now drops the connection after each message
        conn.send(sk, outgoing(100))
        conn.send(sk, outgoing(101))  # the dead pooled connection is replaced, nothing is lost
    assert len(faulty_smtp.received) == 27


def test_4xx_at_rcpt_is_temporary_and_connection_stays_usable(faulty_smtp):
    sk = skeleton()
    with SmtpConnection(settings_for(faulty_smtp)) as conn:
        with pytest.raises(TransportError) as info:
            conn.send(sk, outgoing(1, to="rcpt-temp@example.com"))
        assert not info.value.permanent and not info.value.unknown_outcome
        assert (info.value.code, info.value.enhanced) == (450, "4.2.1")
        conn.send(sk, outgoing(2))
    assert conn.connections_opened == 1 and len(faulty_smtp.received) == 1


def test_5xx_at_rcpt_is_permanent_with_the_enhanced_code(faulty_smtp):
    with SmtpConnection(settings_for(faulty_smtp)) as conn, pytest.raises(TransportError) as info:
        conn.send(skeleton(), outgoing(1, to="rcpt-perm@example.com"))
    assert info.value.permanent and (info.value.code, info.value.enhanced) == (550, "5.1.1")
    assert not faulty_smtp.received


def test_4xx_and_5xx_at_data(faulty_smtp):
    sk = skeleton()
    with SmtpConnection(settings_for(faulty_smtp)) as conn:
        with pytest.raises(TransportError) as temp:
            conn.send(sk, outgoing(1, to="data-temp@example.com"))
        with pytest.raises(TransportError) as perm:
            conn.send(sk, outgoing(2, to="data-perm@example.com"))
        conn.send(sk, outgoing(3))
    assert not temp.value.permanent and temp.value.code == 451 and temp.value.enhanced == "4.3.0"
    assert perm.value.permanent and perm.value.code == 554 and perm.value.enhanced == "5.7.1"
    assert conn.connections_opened == 1 and len(faulty_smtp.received) == 1


def test_disconnect_after_final_dot_is_an_unknown_outcome(faulty_smtp):
    sk = skeleton()
    with SmtpConnection(settings_for(faulty_smtp)) as conn:
        with pytest.raises(TransportError) as info:
            conn.send(sk, outgoing(1, to="drop-after-dot@example.com"))
        assert info.value.unknown_outcome and not info.value.permanent
        assert str(info.value) == UNKNOWN_OUTCOME
        conn.send(sk, outgoing(2))  # a fresh connection carries on
    # the server did receive the message: a resend would be a duplicate, which is why it is reported
    assert len(faulty_smtp.received) == 2 and conn.connections_opened == 2


def test_unreachable_server_is_temporary():
    with socket_closed_port() as port, pytest.raises(TransportError) as info:
        SmtpConnection(SmtpSettings(port=port, timeout=2)).send(skeleton(), outgoing())
    assert not info.value.permanent and not info.value.unknown_outcome


def socket_closed_port():
    import contextlib
    import socket

    @contextlib.contextmanager
    def closed():
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        yield port

    return closed()


def test_pool_shares_connections_between_threads(faulty_smtp):
    pool = SmtpPool(settings_for(faulty_smtp), size=3)
    sk = skeleton()
    errors = []

    def worker(start):
        try:
            for i in range(start, start + 20):
                pool.send(sk, outgoing(i, to=f"t{i}@example.com"))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n * 100,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pool.close()
    assert not errors
    assert len(faulty_smtp.received) == 100
    assert len({m["Message-ID"] for m in faulty_smtp.messages()}) == 100
    assert pool.connections_opened <= 3


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_token_bucket_limits_the_rate_without_real_waiting():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        bucket.acquire()  # the burst goes at once
    assert clock.now == 0.0
    for _ in range(20):
        bucket.acquire()
    assert clock.now == pytest.approx(2.0)  # then 10 per second
    assert bucket.try_acquire() == pytest.approx(0.1)
    clock.now += 10
    assert bucket.try_acquire() == 0.0
    with pytest.raises(ValueError):
        TokenBucket(rate=0)


def test_rate_limiter_is_per_provider_account(faulty_smtp):
    assert rate_limiter("acct-1", 5.0, 2) is rate_limiter("acct-1", 5.0, 2)
    assert rate_limiter("acct-1", 5.0, 2) is not rate_limiter("acct-2", 5.0, 2)
    clock = FakeClock()
    bucket = TokenBucket(rate=100, burst=1, clock=clock, sleep=clock.sleep)
    with SmtpConnection(settings_for(faulty_smtp), limiter=bucket) as conn:
        for i in range(11):
            conn.send(skeleton(), outgoing(i))
    assert clock.now == pytest.approx(0.1)  # 10 waits of 10 ms: the transport asked the bucket each time


KEYS = Path(__file__).parent


def test_dkim_signature_verifies_and_covers_the_unsubscribe_headers():
    key = DkimKey("mail.maison-test.example", "glocal1", (KEYS / "dkim_test_key.pem").read_bytes())
    raw = skeleton(dkim=key).build(outgoing(), date=DATE)
    assert raw.startswith(b"DKIM-Signature: ")
    public = (KEYS / "dkim_test_key.pub.b64").read_text().strip()

    def dns(name, timeout=5):
        assert name == b"glocal1._domainkey.mail.maison-test.example."
        return f"v=DKIM1; k=rsa; p={public}".encode()

    assert dkim.verify(raw, dnsfunc=dns)
    signature = email.message_from_bytes(raw, policy=policy.default)["DKIM-Signature"]
    signed = [
        h.strip().lower() for h in signature.split("h=")[1].split(";")[0].replace("\r\n", "").split(":")
    ]
    assert {"list-unsubscribe", "list-unsubscribe-post", "from", "message-id"} <= set(signed)
    assert "a=rsa-sha256" in signature.replace(" ", "")
    tampered = raw.replace(
        b"List-Unsubscribe: <https://glocal.example/u/tok1>",
        b"List-Unsubscribe: <https://evil.example/u/tok1>",
    )
    assert tampered != raw and not dkim.verify(tampered, dnsfunc=dns)


@pytest.mark.parametrize(
    "address",
    ["a@example.com> NOTIFY=NEVER", "a@b@example.com", "a b@example.com", "<a@example.com>", "a@localhost",
     "jéanne@example.com", "a@exa_mple.com", "a@", "@example.com", "a@example.com>"],
)  # fmt: skip
def test_unsafe_or_unsupported_addresses_are_refused(address):
    with pytest.raises(ValueError):
        skeleton().build(outgoing(to=address))


def test_international_domain_is_encoded():
    raw = skeleton().build(outgoing(to="jeanne@café.example"))
    assert b"<jeanne@xn--caf-dma.example>" in raw
