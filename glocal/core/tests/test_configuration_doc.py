"""docs/configuration.md names every environment variable the code reads, and only those.

The code is config/ and glocal/ (tests excepted): a variable is read by ``os.environ.get("X"``,
``os.environ["X"]``, ``os.getenv("X"``, ``os.environ.setdefault("X"``, ``env_bool("X"``, ``env_list("X"``
or ``env_int("X"``. The documentation names a variable in the first column of a table row
(``| `X` | …``). A family read by prefix (``ANYMAIL_…``, every variable passed to Anymail) is documented
as ``PREFIX_*`` and its members may be named as examples.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "configuration.md"
READ = re.compile(
    r"""(?:os\.environ\.get|os\.getenv|os\.environ\.setdefault|env_bool|env_list|env_int)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
)
PREFIX_READ = re.compile(r"""startswith\(\s*["']([A-Z][A-Z0-9_]*_)["']\s*\)""")
DOC_ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*\*?)`", re.MULTILINE)


def code_files() -> list[Path]:
    files = [*(ROOT / "config").rglob("*.py"), *(ROOT / "glocal").rglob("*.py")]
    return sorted(path for path in files if "tests" not in path.relative_to(ROOT).parts)


def read_by_code() -> tuple[dict[str, list[str]], set[str]]:
    """Variable → the files reading it; prefixes read as families."""
    names: dict[str, list[str]] = {}
    prefixes: set[str] = set()
    for path in code_files():
        text = path.read_text(encoding="utf-8")
        for match in READ.finditer(text):
            names.setdefault(match.group(1) or match.group(2), []).append(str(path.relative_to(ROOT)))
        prefixes.update(PREFIX_READ.findall(text))
    return names, prefixes


def documented() -> set[str]:
    return set(DOC_ROW.findall(DOC.read_text(encoding="utf-8")))


def test_the_scanner_finds_the_known_readers() -> None:
    names, prefixes = read_by_code()
    known = ("DATABASE_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "WEB_CONCURRENCY", "GLOCAL_PUBLIC_URL")
    for name in known:
        assert name in names, name
    assert "ANYMAIL_" in prefixes
    assert "DJANGO_SETTINGS_MODULE" in names  # os.environ.setdefault in config/wsgi.py


def test_every_variable_the_code_reads_is_documented() -> None:
    names, prefixes = read_by_code()
    missing = {
        name: files
        for name, files in names.items()
        if name not in documented() and not any(name.startswith(p) for p in prefixes)
    }
    assert not missing, (
        "Environment variables read by the code but absent from docs/configuration.md (add a table row "
        f"| `NAME` | default | meaning | example |): {missing}"
    )
    for prefix in prefixes:
        assert f"{prefix}*" in documented(), f"document the family {prefix}* in docs/configuration.md"


def test_the_doc_names_no_variable_the_code_does_not_read() -> None:
    names, prefixes = read_by_code()
    stale = sorted(
        name
        for name in documented()
        if name not in names
        and not (name.endswith("*") and name[:-1] in prefixes)
        and not any(name.startswith(prefix) for prefix in prefixes)
    )
    assert not stale, f"docs/configuration.md documents variables no code reads any more: {stale}"


def settings_in_subprocess(module: str, env: dict[str, str], code: str) -> str:
    """Run ``code`` after django.setup() with ``module`` and only ``env`` on top of a clean environment."""
    import os
    import subprocess
    import sys

    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("GLOCAL_", "DJANGO_", "ALLOWED_", "CSRF_"))
    }
    clean.pop("DATABASE_URL", None)
    clean.update(env, DJANGO_SETTINGS_MODULE=module)
    script = f"import django\ndjango.setup()\n{code}"
    result = subprocess.run(
        [sys.executable, "-c", script], env=clean, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_media_go_to_an_s3_bucket_when_one_is_named(tmp_path: Path) -> None:
    env = {
        "GLOCAL_DATA_DIR": str(tmp_path),
        "GLOCAL_MEDIA_S3_BUCKET": "glocal-media",
        "GLOCAL_MEDIA_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "GLOCAL_MEDIA_S3_PREFIX": "prod",
        "GLOCAL_MEDIA_S3_ADDRESSING_STYLE": "path",
    }
    code = (
        "from django.core.files.storage import storages\n"
        "s = storages['default']\n"
        "print(type(s).__name__, s.bucket_name, s.endpoint_url, s.location, s.default_acl,"
        " s.querystring_auth)"
    )
    out = settings_in_subprocess("config.settings.local", env, code)
    assert out == "S3Storage glocal-media http://127.0.0.1:9000 prod private True"
    out = settings_in_subprocess(
        "config.settings.local",
        {"GLOCAL_DATA_DIR": str(tmp_path)},
        "from django.core.files.storage import default_storage as s\nprint(s.location)",
    )
    assert out == str(tmp_path / "media")


def test_production_accepts_the_public_host_unless_told_otherwise(tmp_path: Path) -> None:
    env = {
        "GLOCAL_DATA_DIR": str(tmp_path),
        "SECRET_KEY": "k" * 60,
        "GLOCAL_PUBLIC_URL": "https://glocal.example",
        "GLOCAL_SENDER_DOMAIN": "mail.glocal.example",
        "ANYMAIL_WEBHOOK_SECRET": "user:webhook-secret-0123456789",
        "GLOCAL_SMS_WEBHOOK_TOKEN": "sms-token-0123456789",
        "GLOCAL_BOUNCE_WEBHOOK_TOKEN": "bounce-token-0123456789",
    }
    code = "from django.conf import settings as s\nprint(s.ALLOWED_HOSTS, s.CSRF_TRUSTED_ORIGINS)"
    out = settings_in_subprocess("config.settings.production", env, code)
    assert out == "['glocal.example'] ['https://glocal.example']"
    env.update(ALLOWED_HOSTS="a.example,b.example", CSRF_TRUSTED_ORIGINS="https://a.example")
    out = settings_in_subprocess("config.settings.production", env, code)
    assert out == "['a.example', 'b.example'] ['https://a.example']"
