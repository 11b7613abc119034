"""GSM 03.38 / UCS-2 detection and segment counts (pure)."""

from __future__ import annotations

from decimal import Decimal

from glocal.creatives import sms


def test_gsm7_single_and_concatenated():
    assert sms.analyse("a" * 160).segments == 1
    info = sms.analyse("a" * 161)
    assert (info.encoding, info.segments, info.per_segment) == ("GSM-7", 2, 153)
    assert sms.analyse("a" * 306).segments == 2
    assert sms.analyse("a" * 307).segments == 3
    assert sms.analyse("").segments == 0


def test_extension_characters_count_two_and_never_straddle_segments():
    info = sms.analyse("€" * 80)
    assert (info.encoding, info.units, info.segments) == ("GSM-7", 160, 1)
    assert sms.analyse("€" * 80 + "a").segments == 2
    # 152 plain + one extension char: 154 septets; the escape pair moves whole to segment 2.
    info = sms.analyse("a" * 152 + "[" + "a" * 10)
    assert info.units == 164 and info.segments == 2
    assert sms.analyse("a" * 152 + "{" + "a" * 152).segments == 3


def test_french_accents_stay_gsm_but_others_switch_to_ucs2():
    assert sms.analyse("Été à Noël: -20 % chez Ève, où ça? ñ ü").encoding == "UCS-2"  # Ë, ç, È…
    assert sms.is_gsm7("éèàùì Ç Ö ñ ü ß")
    info = sms.analyse("Promo ç")
    assert info.encoding == "UCS-2" and info.non_gsm == ("ç",)


def test_ucs2_segments_and_surrogates():
    assert sms.analyse("ç" * 70).segments == 1
    info = sms.analyse("ç" * 71)
    assert (info.segments, info.per_segment) == (2, 67)
    emoji = sms.analyse("🎉" * 35)
    assert (emoji.units, emoji.segments) == (70, 1)
    # 134 units would fit 2 × 67, but the pair cannot straddle the boundary at 67: 3 segments.
    assert sms.analyse("a" * 66 + "🎉" + "a" * 66).segments == 3


def test_cost_and_remaining():
    info = sms.analyse("a" * 200, Decimal("0.045"))
    assert info.cost == Decimal("0.0900")
    assert info.remaining == 306 - 200
    assert sms.analyse("hello", "0.05").remaining == 155
