import re
from datetime import timedelta
from email.message import EmailMessage

from django.utils import timezone

from glocal.accounts.models import Invitation, User
from glocal.network.models import Membership


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def link_in(text: str) -> str:
    match = re.search(r"https?://[^\s]+", text)
    assert match, text
    return re.sub(r"^https?://[^/]+", "", match.group(0))


def test_invitation_by_email_creates_the_user_and_membership(
    network, login, smtp_server, django_capture_on_commit_callbacks, client
):
    # given the manager of store A invites a new colleague
    manager = login(network, "store_a")
    with django_capture_on_commit_callbacks(execute=True):
        response = manager.post(
            "/people/invite/",
            {
                "email": "New.Person@Example.test",
                "full_name": "Nouvelle",
                "entity": network.store_a.pk,
                "role": "local_staff",
            },
        )
    assert response.status_code == 302
    # then a real SMTP server received the invitation, with a link
    assert len(smtp_server.messages) == 1
    _, recipients, message = smtp_server.messages[0]
    assert recipients == ["new.person@example.test"]
    path = link_in(body_of(message))
    invitation = Invitation.unscoped.get()
    assert invitation.token_hash not in path  # only the hash is stored, the link carries the token
    # when the invitee opens it and chooses a password
    client.logout()
    assert client.get(path).status_code == 200
    response = client.post(
        path,
        {
            "full_name": "Nouvelle Personne",
            "password1": "un-long-mot-de-passe",
            "password2": "un-long-mot-de-passe",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email="new.person@example.test")
    assert Membership.unscoped.filter(user=user, entity=network.store_a, role="local_staff").exists()
    # then they are logged in, see their store, and the link cannot be reused
    assert client.get(f"/network/entities/{network.store_a.pk}/").status_code == 200
    assert client.get(f"/network/entities/{network.store_b.pk}/").status_code == 404
    client.logout()
    assert client.get(path).status_code == 404


def test_existing_user_accepts_after_logging_in(
    network, login, smtp_server, django_capture_on_commit_callbacks
):
    hq = login(network, "hq_admin")
    with django_capture_on_commit_callbacks(execute=True):
        hq.post(
            "/people/invite/",
            {"email": "store_b@example.test", "entity": network.store_a.pk, "role": "local_manager"},
        )
    path = link_in(body_of(smtp_server.messages[0][2]))
    hq.logout()
    response = hq.get(path)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    hq.force_login(network.users["store_b"], backend="django.contrib.auth.backends.ModelBackend")
    assert hq.post(path).status_code == 302
    assert Membership.unscoped.filter(user=network.users["store_b"], entity=network.store_a).exists()


def test_expired_and_revoked_invitations_are_refused(network, login, client):
    for field in ("expires_at", "revoked_at"):
        token = Invitation.new_token()
        from glocal.accounts.models import hash_token

        inv = Invitation.unscoped.create(
            organisation=network.org,
            entity=network.store_a,
            email=f"{field}@x.test",
            role="local_staff",
            token_hash=hash_token(token),
            expires_at=timezone.now() + timedelta(days=1),
        )
        setattr(inv, field, timezone.now() - timedelta(minutes=1))
        inv.save()
        assert client.get(f"/accounts/invitation/{token}/").status_code == 404


def test_password_reset_by_email(network, client, smtp_server):
    response = client.post("/accounts/password-reset/", {"email": "store_a@example.test"})
    assert response.status_code == 302
    assert len(smtp_server.messages) == 1
    path = link_in(body_of(smtp_server.messages[0][2]))
    response = client.get(path, follow=True)
    form_url = response.redirect_chain[-1][0]
    response = client.post(
        form_url, {"new_password1": "a-brand-new-secret", "new_password2": "a-brand-new-secret"}
    )
    assert response.status_code == 302
    assert (
        client.post(
            "/accounts/login/", {"username": "store_a@example.test", "password": "a-brand-new-secret"}
        ).status_code
        == 302
    )


def test_unknown_email_gets_the_same_answer_and_no_mail(network, client, smtp_server):
    response = client.post("/accounts/password-reset/", {"email": "nobody@example.test"})
    assert response.status_code == 302
    assert smtp_server.messages == []


def test_login_is_rate_limited(network, client):
    statuses = [
        client.post("/accounts/login/", {"username": "store_a@example.test", "password": "wrong"}).status_code
        for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]  # the fifth failure locks the account for this address
    # the right password no longer works for a while
    response = client.post(
        "/accounts/login/", {"username": "store_a@example.test", "password": "pw-correct-horse"}
    )
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # another account from the same address is not locked
    response = client.post(
        "/accounts/login/", {"username": "store_b@example.test", "password": "pw-correct-horse"}
    )
    assert response.status_code == 302


def test_login_and_logout(network, client):
    response = client.post(
        "/accounts/login/", {"username": "STORE_A@example.test", "password": "pw-correct-horse"}
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_passwords_are_hashed_with_argon2_in_production_settings():
    from config.settings import base

    assert base.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


SPRAYED = "Summer2026!"


def _attempt(client, username, password=SPRAYED, **meta):
    return client.post("/accounts/login/", {"username": username, "password": password}, **meta).status_code


def test_spraying_one_password_across_accounts_locks_the_address(network, client, settings):
    settings.GLOCAL_LOGIN_FAILURES_PER_ADDRESS = 20
    for i in range(25):
        User.objects.create_user(email=f"sprayed{i}@example.test", password="pw-correct-horse")
    statuses = [_attempt(client, f"sprayed{i}@example.test") for i in range(25)]
    # One failure per account: the per-account lock (5) never fires, the per-address one (20) does.
    assert statuses == [200] * 19 + [429] * 6
    # The address is locked for every account, even with the right password...
    assert _attempt(client, "store_a@example.test", "pw-correct-horse") == 429
    assert "_auth_user_id" not in client.session
    # ...but another address is not.
    assert _attempt(client, "store_a@example.test", "pw-correct-horse", REMOTE_ADDR="198.51.100.7") == 302


def test_behind_a_trusted_proxy_clients_are_told_apart_by_x_forwarded_for(network, client, settings):
    settings.GLOCAL_TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    # A client behind the proxy (which may prepend a forged address of its own) locks store_a...
    forged = {"HTTP_X_FORWARDED_FOR": "198.51.100.9, 203.0.113.5", **proxy}
    assert [_attempt(client, "store_a@example.test", **forged) for _ in range(5)] == [200] * 4 + [429]
    assert _attempt(client, "store_a@example.test", "pw-correct-horse", **forged) == 429
    # ...for itself only: another client behind the same proxy still logs in.
    other = {"HTTP_X_FORWARDED_FOR": "203.0.113.6", **proxy}
    assert _attempt(client, "store_a@example.test", "pw-correct-horse", **other) == 302
    # The forged leftmost entry was not taken as the client's address.
    assert (
        _attempt(
            client,
            "store_a@example.test",
            "pw-correct-horse",
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR="198.51.100.9",
        )
        == 302
    )


def test_without_a_configured_proxy_x_forwarded_for_is_ignored(network, client, settings):
    settings.GLOCAL_TRUSTED_PROXY_COUNT = 0
    settings.GLOCAL_TRUSTED_PROXIES = []
    statuses = [
        _attempt(client, "store_a@example.test", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}") for i in range(5)
    ]
    assert statuses == [200] * 4 + [429]  # a new forged address each time changes nothing
    assert (
        _attempt(client, "store_a@example.test", "pw-correct-horse", HTTP_X_FORWARDED_FOR="203.0.113.99")
        == 429
    )


def test_client_address_with_a_list_of_trusted_proxies(settings, rf):
    from glocal.accounts.client_ip import client_ip

    settings.GLOCAL_TRUSTED_PROXY_COUNT = 0
    settings.GLOCAL_TRUSTED_PROXIES = ["10.0.0.0/8", "192.0.2.1"]

    def ip(remote, forwarded=None):
        meta = {"REMOTE_ADDR": remote}
        if forwarded is not None:
            meta["HTTP_X_FORWARDED_FOR"] = forwarded
        return client_ip(rf.get("/", **meta))

    assert ip("10.1.2.3", "198.51.100.9, 203.0.113.5, 192.0.2.1") == "203.0.113.5"  # two proxies skipped
    assert ip("203.0.113.7", "198.51.100.9") == "203.0.113.7"  # not from a trusted proxy: header ignored
    assert ip("10.1.2.3", "not-an-address") == "10.1.2.3"  # garbage: the proxy's address, never the garbage
    assert ip("10.1.2.3") == "10.1.2.3"
