"""SMS length and cost, pure: GSM 03.38 (7-bit) versus UCS-2, segments, price.

A message that fits the GSM 03.38 basic table (and its extension table, where each character costs
two septets: ESC + code) is sent in GSM-7: 160 septets in one segment, 153 per segment when
concatenated. Any other character switches the whole message to UCS-2: 70 UTF-16 units in one
segment, 67 per segment when concatenated. A segment boundary never splits an escape pair or a
surrogate pair.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# GSM 03.38 basic character set (0x1B, the escape to the extension table, is not a character).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# GSM 03.38 extension table: each costs 2 septets.
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"


@dataclass(frozen=True)
class SmsInfo:
    encoding: str
    characters: int
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int
    cost: Decimal
    non_gsm: tuple[str, ...] = ()  # the characters that forced UCS-2

    @property
    def remaining(self) -> int:
        """Units left in the last segment before another one is needed."""
        if self.segments <= 1:
            return (160 if self.encoding == GSM7 else 70) - self.units
        return self.segments * self.per_segment - self.units


def is_gsm7(text: str) -> bool:
    return all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text)


def _units(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if ch in GSM_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _segments(units: list[int], single: int, multi: int) -> int:
    total = sum(units)
    if total == 0:
        return 0
    if total <= single:
        return 1
    segments, used = 1, 0
    for size in units:  # greedy fill: a 2-unit character never straddles two segments
        if used + size > multi:
            segments += 1
            used = 0
        used += size
    return segments


def analyse(text: str, price_per_segment: Decimal | float | str = Decimal("0")) -> SmsInfo:
    encoding = GSM7 if is_gsm7(text) else UCS2
    units = _units(text, encoding)
    if encoding == GSM7:
        segments = _segments(units, 160, 153)
        per_segment = 160 if segments <= 1 else 153
    else:
        segments = _segments(units, 70, 67)
        per_segment = 70 if segments <= 1 else 67
    non_gsm = tuple(dict.fromkeys(ch for ch in text if ch not in GSM_BASIC and ch not in GSM_EXTENSION))
    price = Decimal(str(price_per_segment))
    return SmsInfo(
        encoding=encoding,
        characters=len(text),
        units=sum(units),
        segments=segments,
        per_segment=per_segment,
        cost=(price * segments).quantize(Decimal("0.0001")),
        non_gsm=non_gsm[:10],
    )
