"""A finding: what is wrong, where, how serious — shown in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str  # ERROR blocks a write or a submission; WARNING informs
    where: str  # a zone key, or a part: "subject", "html", "text", "sms", "source", "zones"
    message: Any  # a lazy translatable string, formatted with ``params`` when shown
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def text(self) -> str:
        message = str(self.message)
        return message % self.params if self.params else message

    def __str__(self) -> str:
        return self.text


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)
