"""Deterministic generator of a realistic French retail network (demo and seed data).

Used by ``glocal seed --stores N`` and ``make demo``. Pure standard library: no Django import, so it can
be used (and tested) without settings. The output only depends on the arguments of
:func:`generate_network`: every random choice goes through one ``random.Random(seed)``. The cities,
regions, names and streets it draws from are data files (``glocal/demo/data/``, see
:mod:`glocal.demo.reference`).

The shape is one HQ in Paris, then regional offices, then stores::

    HQ
    ├── R-IDF   Île-de-France
    │   ├── S-0001  Maison Verte Paris Opéra
    │   └── …
    └── R-OM    Outre-mer
        └── S-0030  Maison Verte Saint-Denis Barachois   (Indian/Reunion)
"""

import math
import random
import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from . import reference
from .reference import City, District, Region

__all__ = ["SeedEntity", "generate_network", "person_name"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# From this many stores on, the Outre-mer region is always part of the network.
_OVERSEAS_FROM_STORES = 10


def person_name(rng: random.Random) -> tuple[str, str]:
    """A plausible French ``(first_name, last_name)`` drawn from ``rng``."""
    table = reference.names()
    return rng.choice(table.first_names), rng.choice(table.last_names)


@dataclass(frozen=True)
class SeedEntity:
    code: str  # unique, e.g. "HQ", "R-IDF", "S-0001"
    parent_code: str | None
    kind: str  # "hq" | "region" | "store"
    name: str
    legal_name: str
    address_line1: str
    postcode: str
    city: str
    country: str  # ISO-3166 alpha-2; overseas departments are "FR" too
    phone: str  # E.164
    email: str
    website: str
    manager_name: str
    timezone: str  # IANA
    latitude: float
    longitude: float
    catchment_postcodes: tuple[str, ...]
    opening_hours: dict[str, str]  # keys mon..sun, "" when closed


_LEGAL_FORMS = ("SAS", "SARL", "SASU", "EURL")
_LEGAL_FORM_WEIGHTS = (60, 25, 10, 5)
_OFFICE_HOURS = {day: ("09:00-18:00" if day not in ("sat", "sun") else "") for day in _DAYS}
_NEIGHBOUR_KM = 40.0


# --------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------


def _slugify(text: str) -> str:
    """ASCII, lower-case, hyphen-separated: ``"Côte d'Azur"`` → ``"cote-d-azur"``."""
    text = text.replace("œ", "oe").replace("Œ", "Oe").replace("æ", "ae").replace("Æ", "Ae")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _distance_km(a: City, b: City) -> float:
    """Equirectangular approximation, plenty for "is this city nearby"."""
    x = math.radians(b.lon - a.lon) * math.cos(math.radians((a.lat + b.lat) / 2))
    y = math.radians(b.lat - a.lat)
    return 6371.0 * math.hypot(x, y)


@cache
def _neighbours() -> dict[str, tuple[str, ...]]:
    """Main postcodes of the other cities of the same region within ``_NEIGHBOUR_KM``, nearest first."""
    result = {}
    for city in reference.cities():
        near = []
        for other in reference.cities():
            if other is not city and other.region == city.region:
                distance = _distance_km(city, other)
                if distance <= _NEIGHBOUR_KM:
                    near.append((distance, other.postcodes[0]))
        near.sort()
        result[city.name] = tuple(postcode for _, postcode in near)
    return result


@cache
def _city_by_name() -> dict[str, City]:
    return {city.name: city for city in reference.cities()}


@cache
def _cities_by_region() -> dict[str, tuple[City, ...]]:
    return {
        region.code: tuple(city for city in reference.cities() if city.region == region.code)
        for region in reference.regions()
    }


def _metro_regions() -> tuple[Region, ...]:
    """The metropolitan regions, in the order they are picked when fewer than all of them are wanted."""
    return tuple(region for region in reference.regions() if not region.overseas)


def _unique(candidate: str, used: set[str], separator: str = " ") -> str:
    """``candidate``, else ``candidate 2``, ``candidate 3``… the first not in ``used``, which records it."""
    value, n = candidate, 1
    while value in used:
        n += 1
        value = f"{candidate}{separator}{n}"
    used.add(value)
    return value


class _Builder:
    """Holds the random generator and the uniqueness registries of one ``generate_network`` call."""

    def __init__(self, seed: int, brand: str) -> None:
        self.rng = random.Random(seed)
        self.brand = brand
        self.domain = _slugify(brand).replace("-", "") + ".example"
        self.names: set[str] = set()
        self.slugs: set[str] = set()
        self.phones: set[str] = set()
        self.district_pools: dict[str, list[District]] = {}
        self.district_cursor: dict[str, int] = {}

    # -- field generators ---------------------------------------------------------------------------------

    def phone(self, city: City) -> str:
        prefix = self.rng.choice(city.phone_prefixes)
        while True:
            number = f"+{city.country_code}{prefix}{self.rng.randint(100000, 999999)}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def address(self, street: str | None = None) -> str:
        return f"{self.rng.randint(1, 150)} {street or self.rng.choice(reference.names().streets)}"

    def manager(self) -> str:
        first, last = person_name(self.rng)
        return f"{first} {last}"

    def catchment(self, city: City, postcode: str) -> tuple[str, ...]:
        """2 to 5 postcodes: the entity's own, then other postcodes of the city and of nearby cities, then
        plausible postcodes of the same department."""
        wanted = self.rng.randint(2, 5)
        nearby = [code for code in city.postcodes if code != postcode]
        self.rng.shuffle(nearby)
        codes = [postcode]
        for code in nearby + list(_neighbours()[city.name]):
            if len(codes) == wanted:
                break
            if code not in codes:
                codes.append(code)
        department = city.department
        while len(codes) < wanted:
            if len(department) == 3:  # overseas: 97410, 97420…
                code = f"{department}{self.rng.randint(1, 9)}0"
            else:  # 69130, 38240…
                code = f"{department}{self.rng.randint(1, 9)}{self.rng.randint(0, 9)}0"
            if code not in codes:
                codes.append(code)
        return tuple(codes)

    def store_hours(self, city: City) -> dict[str, str]:
        roll = self.rng.random()
        if city.overseas:
            week, saturday, monday = "08:30-18:30", "08:30-18:00", "08:30-18:30"
            sunday = "08:00-12:30" if roll < 0.5 else ""
        elif roll < 0.45:  # high street
            week = saturday = monday = "09:30-19:30"
            sunday = ""
        elif roll < 0.70:  # shopping centre
            week = saturday = monday = "10:00-20:00"
            sunday = ""
        elif roll < 0.88 and city.population < 100:  # small town: lunch break, Monday morning closed
            week = saturday = "09:00-12:30, 14:00-19:00"
            monday = "14:00-19:00"
            sunday = ""
        elif roll >= 0.88:  # open on Sunday morning
            week = saturday = monday = "09:00-19:30"
            sunday = "09:30-13:00"
        else:  # big city: no lunch break
            week = saturday = monday = "09:30-19:00"
            sunday = ""
        hours = dict.fromkeys(_DAYS, week)
        hours["mon"], hours["sat"], hours["sun"] = monday, saturday, sunday
        return hours

    def coordinates(self, city: City, spread: float) -> tuple[float, float]:
        lat = city.lat + self.rng.uniform(-spread, spread)
        lon = city.lon + self.rng.uniform(-spread, spread) / max(0.3, math.cos(math.radians(city.lat)))
        return round(lat, 6), round(lon, 6)

    def next_district(self, city: City) -> tuple[str, District]:
        """The next unused store label of ``city`` and its district.

        Known districts come first (in table order), then generic neighbourhoods and street names in a
        seeded order; once all are used the labels are reused with a number ("Opéra 2")."""
        pool = self.district_pools.get(city.name)
        if pool is None:
            known = {district.label for district in city.districts}
            extra = [
                District(label, None, None) for label in reference.names().districts if label not in known
            ]
            extra += [
                District(street[0].upper() + street[1:], None, street)
                for street in reference.names().streets
                if not street.endswith(f" {city.name}")  # no "Paris Rue de Paris"
            ]
            self.rng.shuffle(extra)
            if not city.districts:  # small cities: the first store is the town-centre one
                extra.sort(key=lambda district: district.label != "Centre-Ville")
            pool = self.district_pools[city.name] = list(city.districts) + extra
        index = self.district_cursor.get(city.name, 0)
        self.district_cursor[city.name] = index + 1
        district = pool[index % len(pool)]
        round_ = index // len(pool)
        label = district.label if round_ == 0 else f"{district.label} {round_ + 1}"
        return label, district

    # -- entities -----------------------------------------------------------------------------------------

    def hq(self) -> SeedEntity:
        paris = _city_by_name()["Paris"]
        postcode = self.rng.choice(paris.postcodes)
        name = _unique(f"{self.brand} Siège", self.names)
        lat, lon = self.coordinates(paris, 0.02)
        return SeedEntity(
            code="HQ",
            parent_code=None,
            kind="hq",
            name=name,
            legal_name=f"{self.brand} SA",
            address_line1=self.address(),
            postcode=postcode,
            city=paris.name,
            country="FR",
            phone=self.phone(paris),
            email=f"{_unique('siege', self.slugs, '-')}@{self.domain}",
            website=f"https://{self.domain}",
            manager_name=self.manager(),
            timezone=paris.timezone,
            latitude=lat,
            longitude=lon,
            catchment_postcodes=self.catchment(paris, postcode),
            opening_hours=dict(_OFFICE_HOURS),
        )

    def region(self, region: Region) -> SeedEntity:
        capital = _cities_by_region()[region.code][0]
        postcode = capital.postcodes[0]
        slug = _unique(f"region-{_slugify(region.name)}", self.slugs, "-")
        lat, lon = self.coordinates(capital, 0.01)
        return SeedEntity(
            code=f"R-{region.code}",
            parent_code="HQ",
            kind="region",
            name=_unique(f"{self.brand} {region.name}", self.names),
            legal_name=f"{self.brand} {region.name} SAS",
            address_line1=self.address(),
            postcode=postcode,
            city=capital.name,
            country="FR",
            phone=self.phone(capital),
            email=f"{slug}@{self.domain}",
            website=f"https://{self.domain}/regions/{slug.removeprefix('region-')}",
            manager_name=self.manager(),
            timezone=capital.timezone,
            latitude=lat,
            longitude=lon,
            catchment_postcodes=self.catchment(capital, postcode),
            opening_hours=dict(_OFFICE_HOURS),
        )

    def store(self, code: str, parent_code: str, city: City) -> SeedEntity:
        label, district = self.next_district(city)
        name = _unique(f"{self.brand} {city.name} {label}", self.names)
        slug = _unique(_slugify(f"{city.name} {label}"), self.slugs, "-")
        postcode = district.postcode or self.rng.choice(city.postcodes)
        legal_form = self.rng.choices(_LEGAL_FORMS, weights=_LEGAL_FORM_WEIGHTS)[0]
        lat, lon = self.coordinates(city, 0.025)
        return SeedEntity(
            code=code,
            parent_code=parent_code,
            kind="store",
            name=name,
            legal_name=f"{name} {legal_form}",
            address_line1=self.address(district.street),
            postcode=postcode,
            city=city.name,
            country="FR",
            phone=self.phone(city),
            email=f"{slug}@{self.domain}",
            website=f"https://{self.domain}/magasins/{slug}",
            manager_name=self.manager(),
            timezone=city.timezone,
            latitude=lat,
            longitude=lon,
            catchment_postcodes=self.catchment(city, postcode),
            opening_hours=self.store_hours(city),
        )


def _region_count(stores: int, regions: int | None) -> int:
    metro = len(_metro_regions())
    most = metro + 1  # and the Outre-mer region
    if regions is None:
        count = max(1, min(metro, round(stores / 10)))
        if stores >= _OVERSEAS_FROM_STORES:
            count = max(count, 2)  # room for the Outre-mer region next to a metropolitan one
        return count
    if not 1 <= regions <= most:
        raise ValueError(f"regions must be between 1 and {most}, got {regions}")
    if regions > stores:
        raise ValueError(f"every region needs a store: {regions} regions for {stores} stores")
    if regions < 2 and stores >= _OVERSEAS_FROM_STORES:
        raise ValueError(f"from {_OVERSEAS_FROM_STORES} stores on, the network has an Outre-mer region too")
    return regions


def _choose_regions(stores: int, count: int) -> list[Region]:
    metro = _metro_regions()
    overseas = stores >= _OVERSEAS_FROM_STORES or count == len(metro) + 1
    chosen = list(metro[: count - 1 if overseas else count])
    if overseas:
        chosen.append(reference.overseas_region())
    return chosen


def _allocate(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` over ``weights`` (largest remainder), at least 1 each."""
    counts = [1] * len(weights)
    extra = total - len(weights)
    quotas = [extra * weight / sum(weights) for weight in weights]
    for i, quota in enumerate(quotas):
        counts[i] += int(quota)
    leftover = total - sum(counts)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - int(quotas[i])), i))
    for i in by_remainder[:leftover]:
        counts[i] += 1
    return counts


def generate_network(
    *, stores: int = 30, regions: int | None = None, seed: int = 42, brand: str = "Maison Verte"
) -> list[SeedEntity]:
    """HQ first, then regions, then stores, parents always before children.

    ``regions`` defaults to ``max(1, min(12, round(stores / 10)))``, raised to 2 from 10 stores on: from
    then on one region is always "Outre-mer" so that demos show a non-Paris time zone. Regions get stores
    in proportion to their population (at least one each), cities within a region by the square root of
    theirs, the regional capital first. Same arguments, same list.
    """
    if stores < 1:
        raise ValueError(f"stores must be at least 1, got {stores}")
    if not _slugify(brand):
        raise ValueError(f"brand needs at least one letter or digit, got {brand!r}")
    chosen = _choose_regions(stores, _region_count(stores, regions))
    builder = _Builder(seed, brand)
    rng = builder.rng

    entities = [builder.hq()]
    entities += [builder.region(region) for region in chosen]

    width = max(4, len(str(stores)))
    number = 0
    for region, count in zip(chosen, _allocate(stores, [r.population for r in chosen]), strict=True):
        in_region = _cities_by_region()[region.code]
        per_city = [0] * len(in_region)
        per_city[0] = 1  # the regional capital always has a store
        weights = [math.sqrt(city.population) for city in in_region]
        for index in rng.choices(range(len(in_region)), weights=weights, k=count - 1):
            per_city[index] += 1
        for city, city_count in zip(in_region, per_city, strict=True):
            for _ in range(city_count):
                number += 1
                entities.append(builder.store(f"S-{number:0{width}d}", f"R-{region.code}", city))
    return entities
