"""What a French page must not show: English words left untranslated and raw codes (state, action,
channel or field codes such as ``template.personalise``, ``short_text``, ``start_sending``).

Pure functions over a page's visible text, used by ``test_french_walk.py``; kept apart so that they can
be checked without a browser.
"""

from __future__ import annotations

import re

# English words that never occur in French UI text (whole words, any case). Words French shares with
# English ("Contact", "Budget", "Message", "Segment", "Date", "Code", "Total", "Import", "Export",
# "Stop", "Type", "Version"...) or that are French words too ("on", "an", "or", "as", "pour"...) are not
# listed.
ENGLISH_WORDS = frozenset(
    {
        # actions and buttons
        "save",
        "cancel",
        "delete",
        "submit",
        "search",
        "settings",
        "edit",
        "add",
        "create",
        "update",
        "remove",
        "upload",
        "print",
        "download",
        "preview",
        "send",
        "approve",
        "reject",
        "back",
        "next",
        "previous",
        "continue",
        "confirm",
        "close",
        "open",
        "show",
        "hide",
        "apply",
        "filter",
        "reset",
        "invite",
        "switch",
        "login",
        "logout",
        "sign",
        "choose",
        "select",
        "schedule",
        "publish",
        "archive",
        "restore",
        "personalise",
        "personalize",
        "duplicate",
        "copy",
        "retry",
        "refresh",
        # things
        "campaign",
        "campaigns",
        "store",
        "stores",
        "template",
        "templates",
        "customer",
        "customers",
        "people",
        "network",
        "library",
        "approvals",
        "approval",
        "calendar",
        "operation",
        "operations",
        "sender",
        "recipient",
        "recipients",
        "subject",
        "body",
        "address",
        "phone",
        "city",
        "country",
        "name",
        "status",
        "details",
        "role",
        "user",
        "users",
        "owner",
        "folder",
        "files",
        "list",
        "lists",
        "report",
        "reports",
        "history",
        "activity",
        "brand",
        "wave",
        "waves",
        "slot",
        "slots",
        "field",
        "fields",
        "rule",
        "rules",
        "hours",
        "window",
        "consent",
        "unsubscribe",
        "unsubscribed",
        "bounce",
        "bounced",
        "leads",
        "lead",
        "form",
        "forms",
        "targeting",
        "home",
        "profile",
        "password",
        "help",
        "welcome",
        "loading",
        "nothing",
        "yet",
        "none",
        "amount",
        "cost",
        "spent",
        "available",
        # states and outcomes
        "draft",
        "submitted",
        "scheduled",
        "approved",
        "pending",
        "sent",
        "sending",
        "delivered",
        "failed",
        "cancelled",
        "canceled",
        "queued",
        "running",
        "done",
        "active",
        "inactive",
        "enabled",
        "disabled",
        "required",
        "optional",
        "yes",
        "true",
        "false",
        "unknown",
        "error",
        "errors",
        "warning",
        "success",
        # grammar words
        "the",
        "and",
        "with",
        "of",
        "your",
        "you",
        "is",
        "are",
        "this",
        "that",
        "these",
        "for",
        "from",
        "to",
        "by",
        "at",
        "be",
        "has",
        "have",
        "will",
        "all",
        "new",
        "here",
        "there",
        "when",
        "which",
        "what",
        "who",
        "how",
        "not",
        "can",
        "may",
        "must",
        "should",
        "would",
        "per",
        "each",
        "every",
        "only",
        "than",
        "then",
        "its",
        "it",
        "we",
        "our",
        "they",
        "their",
        "them",
        "into",
        "onto",
        "about",
        "after",
        "before",
        "between",
        "without",
        "within",
        "until",
        "while",
    }
)
# Phrases matched as a whole (they mix words listed above, but say what went wrong better).
ENGLISH_PHRASES = ("Email address", "Sending hours", "SMS sending hours", "Log in", "Log out")

# Channel and kind codes shown as they are stored (French writes "e-mail", "SMS", "borne").
CODE_WORDS = frozenset({"email", "sms", "kiosk", "embed"})
# A raw code: lowercase words joined by "." or "_" (template.personalise, short_text, start_sending).
RAW_CODE = re.compile(r"(?<![\w@./:-])[a-z]+(?:[._][a-z]+)+(?![\w@/-])")
# Tokens that legitimately look like codes: emails, URLs, domain names, file names.
_EMAIL_OR_URL = re.compile(r"\S*@\S+|\S*://\S+|\bwww\.\S+|\S+/\S+")
_FILE_OR_DOMAIN = re.compile(
    r"\b[\w.-]+\.(?:csv|xlsx?|pdf|zip|png|jpe?g|gif|svg|webp|txt|html?|ics|json|docx?|eml|"
    r"fr|com|net|org|eu|io|test|example|localhost|local|invalid)\b",
    re.I,
)
_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ]+(?:['’][A-Za-zÀ-ÖØ-öø-ÿ]+)?")


def _without_addresses(text: str) -> str:
    """``text`` without emails, URLs, paths, domain and file names (they may hold any word)."""
    return _FILE_OR_DOMAIN.sub(" ", _EMAIL_OR_URL.sub(" ", text))


def english_words(text: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """English words and phrases in ``text`` (a French page's visible text), once each, in order."""
    text = _without_addresses(text)
    found: list[str] = []
    for phrase in ENGLISH_PHRASES:
        if re.search(rf"\b{re.escape(phrase)}\b", text, re.I) and phrase not in found:
            found.append(phrase)
    for word in _WORD.findall(text):
        lowered = word.lower()
        if word.isupper() and len(word) > 1:  # an acronym or a code (BAT, SMS, STOP, BE)
            continue
        if lowered in ENGLISH_WORDS and lowered not in allowed and word not in found:
            found.append(word)
    return found


def raw_codes(text: str) -> list[str]:
    """Raw codes in ``text`` (not counting emails, URLs, paths, domain and file names)."""
    text = _without_addresses(text)
    found: list[str] = []
    for code in RAW_CODE.findall(text):
        if code not in found:
            found.append(code)
    for word in re.findall(r"(?<![\w-])[a-z]+(?![\w-])", text):
        if word in CODE_WORDS and word not in found:
            found.append(word)
    return found


def strip_known(text: str, known: list[str]) -> str:
    """``text`` without the user data the demo seeds (names that may hold English words)."""
    for item in sorted(known, key=len, reverse=True):
        if item:
            text = text.replace(item, " ")
    return text


def problems(text: str, known: list[str] | None = None) -> list[str]:
    text = strip_known(text, known or [])
    return [f"English: {w}" for w in english_words(text)] + [f"code: {c}" for c in raw_codes(text)]
