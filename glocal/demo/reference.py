"""The demo network's reference data, read from the files in ``glocal/demo/data/`` (once, then cached).

Pure standard library, like the generator that uses it: no Django import.

``regions.csv``
    ``code`` (ISO 3166-2:FR region code, ``OM`` for the overseas departments), ``name``,
    ``population_millions`` (drives how many stores a region gets), ``overseas`` (``yes`` / ``no``).
    The metropolitan regions are listed in the order they are picked when fewer than all are wanted;
    exactly one row is the overseas region.
``cities.csv``
    One row per city, grouped by ``region``; the first city of a region hosts its regional office.
    ``postcodes``: space-separated, ranges allowed (``"69001-69003 69100"``), the first one is the
    main postcode. ``latitude`` / ``longitude``: approximate city centre. ``population_thousands``: the
    commune's. ``phone_prefixes``: space-separated, the national significant number's first 3 digits
    after the country code. ``districts``: the known store labels, ``"Label:postcode|Label|…"`` (the
    postcode is optional). ``timezone``: IANA. ``country_code``: the E.164 calling code (overseas
    departments have their own time zones and calling codes, and are still country "FR").
``names.json``
    ``first_names``, ``last_names`` (plausible French people), ``streets`` (for addresses; a store can
    be named after its street), ``districts`` (neighbourhood or shopping-centre names plausible in any
    French city).
"""

from __future__ import annotations

import csv
import io
import json
from functools import cache
from importlib import resources
from typing import NamedTuple

__all__ = ["City", "District", "Names", "Region", "cities", "names", "overseas_region", "regions"]


class Region(NamedTuple):
    code: str
    name: str
    population: float  # millions
    overseas: bool


class District(NamedTuple):
    label: str
    postcode: str | None  # None: any postcode of the city
    street: str | None  # set when the store is named after its street


class City(NamedTuple):
    name: str
    region: str
    postcodes: tuple[str, ...]  # the first one is the main postcode
    lat: float
    lon: float
    population: int  # thousands (commune)
    phone_prefixes: tuple[str, ...]  # national significant number prefix, 3 digits, after the country code
    districts: tuple[District, ...]
    timezone: str
    country_code: str  # E.164 country calling code

    @property
    def department(self) -> str:
        return self.postcodes[0][:3] if self.postcodes[0].startswith("97") else self.postcodes[0][:2]

    @property
    def overseas(self) -> bool:
        return self.region == overseas_region().code


class Names(NamedTuple):
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    districts: tuple[str, ...]


def _read(name: str) -> str:
    return resources.files("glocal.demo").joinpath("data", name).read_text(encoding="utf-8")


def _rows(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(_read(name))))


def expand_postcodes(spec: str) -> tuple[str, ...]:
    """``"69001-69003 69100"`` → ``("69001", "69002", "69003", "69100")``."""
    codes: list[str] = []
    for token in spec.split():
        first, _, last = token.partition("-")
        if last:
            codes.extend(f"{n:05d}" for n in range(int(first), int(last) + 1))
        else:
            codes.append(first)
    return tuple(codes)


def parse_districts(spec: str) -> tuple[District, ...]:
    """``"Opéra:75009|Bastille"`` → the districts, a postcode only where one is given."""
    parsed = []
    for item in filter(None, spec.split("|")):
        label, _, postcode = item.partition(":")
        parsed.append(District(label, postcode or None, None))
    return tuple(parsed)


@cache
def regions() -> tuple[Region, ...]:
    """Every region, in the file's order."""
    result = tuple(
        Region(row["code"], row["name"], float(row["population_millions"]), row["overseas"] == "yes")
        for row in _rows("regions.csv")
    )
    if sum(region.overseas for region in result) != 1:
        raise ValueError("regions.csv must hold exactly one overseas region")
    return result


@cache
def overseas_region() -> Region:
    return next(region for region in regions() if region.overseas)


@cache
def cities() -> tuple[City, ...]:
    """Every city, in the file's order."""
    known = {region.code for region in regions()}
    result = []
    for row in _rows("cities.csv"):
        if row["region"] not in known:
            raise ValueError(f"cities.csv: unknown region {row['region']!r} for {row['name']}")
        result.append(
            City(
                name=row["name"],
                region=row["region"],
                postcodes=expand_postcodes(row["postcodes"]),
                lat=float(row["latitude"]),
                lon=float(row["longitude"]),
                population=int(row["population_thousands"]),
                phone_prefixes=tuple(row["phone_prefixes"].split()),
                districts=parse_districts(row["districts"]),
                timezone=row["timezone"],
                country_code=row["country_code"],
            )
        )
    return tuple(result)


@cache
def names() -> Names:
    data = json.loads(_read("names.json"))
    return Names(
        first_names=tuple(data["first_names"]),
        last_names=tuple(data["last_names"]),
        streets=tuple(data["streets"]),
        districts=tuple(data["districts"]),
    )
