"""Tests of the demo network generator and its data files (pure Python: no database, no Django settings
needed)."""

import os
import random
import re
import subprocess
import sys
import zoneinfo
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from glocal.demo import generator, reference
from glocal.demo.generator import SeedEntity, generate_network, person_name

FIRST_NAMES = reference.names().first_names
LAST_NAMES = reference.names().last_names

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS_RE = re.compile(r"^$|^\d{2}:\d{2}-\d{2}:\d{2}(, \d{2}:\d{2}-\d{2}:\d{2})*$")
OVERSEAS_CALLING_CODES = {
    "Indian/Reunion": "+262",
    "America/Martinique": "+596",
    "America/Guadeloupe": "+590",
    "America/Cayenne": "+594",
}


@cache
def big_network() -> tuple[SeedEntity, ...]:
    return tuple(generate_network(stores=5000))


def stores_of(network) -> list[SeedEntity]:
    return [entity for entity in network if entity.kind == "store"]


def test_same_arguments_give_identical_output():
    assert generate_network(stores=200, seed=7) == generate_network(stores=200, seed=7)
    assert generate_network() == generate_network(stores=30, regions=None, seed=42, brand="Maison Verte")


def test_output_is_stable_across_processes():
    # Guards against anything depending on hash randomisation (set or str-hash ordering).
    script = "from glocal.demo.generator import generate_network as g; print(repr(g(stores=300)))"
    root = Path(__file__).resolve().parents[3]
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": str(n)},
        ).stdout
        for n in (1, 2)
    }
    assert len(outputs) == 1


def test_seed_and_brand_change_the_output():
    assert generate_network(seed=1) != generate_network(seed=2)
    other = generate_network(brand="Café Dupré")
    assert other[0].email == "siege@cafedupre.example"
    assert all(entity.name.startswith("Café Dupré ") for entity in other)


def test_hq_first_then_regions_then_stores_and_parents_exist():
    for network in (generate_network(), big_network()):
        kinds = [entity.kind for entity in network]
        assert kinds[0] == "hq"
        assert kinds == sorted(kinds, key=["hq", "region", "store"].index)
        hq = network[0]
        assert (hq.code, hq.parent_code, hq.city) == ("HQ", None, "Paris")
        seen: set[str] = set()
        for entity in network:
            if entity.parent_code is not None:
                assert entity.parent_code in seen, entity.code
            seen.add(entity.code)
        assert all(e.parent_code == "HQ" for e in network if e.kind == "region")
        assert all((e.parent_code or "").startswith("R-") for e in network if e.kind == "store")


def test_thirty_stores_give_three_non_empty_regions():
    network = generate_network(stores=30)
    kinds = Counter(entity.kind for entity in network)
    assert kinds == {"hq": 1, "region": 3, "store": 30}
    regions = [entity.code for entity in network if entity.kind == "region"]
    per_region = Counter(store.parent_code for store in stores_of(network))
    assert set(per_region) == set(regions)
    assert all(re.fullmatch(r"R-[A-Z]{2,3}", code) for code in regions)


@pytest.mark.parametrize(
    ("stores", "expected"),
    [(1, 1), (5, 1), (9, 1), (10, 2), (30, 3), (60, 6), (120, 12), (500, 12), (5000, 12)],
)
def test_default_region_count(stores, expected):
    network = big_network() if stores == 5000 else generate_network(stores=stores)
    regions = [entity for entity in network if entity.kind == "region"]
    assert len(regions) == expected
    assert set(Counter(store.parent_code for store in stores_of(network))) == {r.code for r in regions}


def test_explicit_region_count_and_all_regions():
    network = generate_network(stores=40, regions=13)
    regions = [entity for entity in network if entity.kind == "region"]
    assert len(regions) == 13
    assert len({region.name for region in regions}) == 13
    assert "R-IDF" in {region.code for region in regions}
    assert {store.parent_code for store in stores_of(network)} == {region.code for region in regions}


@pytest.mark.parametrize(
    "kwargs",
    [{"stores": 0}, {"stores": 5, "regions": 6}, {"stores": 30, "regions": 14}, {"stores": 30, "regions": 1}],
)
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        generate_network(**kwargs)


@pytest.mark.parametrize("stores", [10, 30, 5000])
def test_an_overseas_store_with_its_own_timezone(stores):
    network = big_network() if stores == 5000 else generate_network(stores=stores)
    overseas = [store for store in stores_of(network) if store.parent_code == "R-OM"]
    assert overseas
    for store in overseas:
        assert store.timezone != "Europe/Paris"
        assert zoneinfo.ZoneInfo(store.timezone)
        assert store.phone.startswith(OVERSEAS_CALLING_CODES[store.timezone])
        assert store.postcode.startswith("97")
        assert store.country == "FR"


def test_small_networks_stay_in_metropolitan_france():
    network = generate_network(stores=5)
    assert {entity.timezone for entity in network} == {"Europe/Paris"}


def test_all_timezones_are_valid():
    for timezone in {entity.timezone for entity in big_network()}:
        assert zoneinfo.ZoneInfo(timezone)


def test_uniqueness_at_five_thousand_stores():
    network = big_network()
    assert len(stores_of(network)) == 5000
    for field in ("code", "email", "name", "website", "phone"):
        values = [getattr(entity, field) for entity in network]
        assert len(set(values)) == len(values), field


def test_store_codes_are_zero_padded():
    codes = [store.code for store in stores_of(generate_network(stores=30))]
    assert codes == [f"S-{n:04d}" for n in range(1, 31)]
    assert stores_of(big_network())[-1].code == "S-5000"
    ten_thousand = stores_of(generate_network(stores=10000))
    assert (ten_thousand[0].code, ten_thousand[-1].code) == ("S-00001", "S-10000")


def test_phone_numbers_look_like_e164():
    for entity in big_network():
        assert re.fullmatch(r"\+\d+", entity.phone), entity.phone
        assert len(entity.phone) in (12, 13), entity.phone
        if entity.timezone == "Europe/Paris":
            assert re.fullmatch(r"\+33[1-5]\d{8}", entity.phone), entity.phone


def test_postcodes_are_five_digits():
    for entity in big_network():
        assert re.fullmatch(r"\d{5}", entity.postcode), entity.postcode
        assert 2 <= len(entity.catchment_postcodes) <= 5
        assert len(set(entity.catchment_postcodes)) == len(entity.catchment_postcodes)
        assert entity.catchment_postcodes[0] == entity.postcode
        for postcode in entity.catchment_postcodes:
            assert re.fullmatch(r"\d{5}", postcode), postcode


def test_profile_fields_are_plausible():
    for entity in big_network():
        assert entity.country == "FR"
        assert entity.name.startswith("Maison Verte ") and entity.legal_name.startswith("Maison Verte ")
        if entity.kind == "store":
            assert entity.legal_name.startswith(entity.name)
        assert re.fullmatch(r"\d+ \S.*", entity.address_line1), entity.address_line1
        assert re.fullmatch(r"[a-z0-9-]+@maisonverte\.example", entity.email), entity.email
        assert entity.website.startswith("https://maisonverte.example")
        first, _, last = entity.manager_name.partition(" ")
        assert first in FIRST_NAMES and last in LAST_NAMES
        assert list(entity.opening_hours) == list(DAYS)
        assert all(HOURS_RE.match(value) for value in entity.opening_hours.values()), entity.opening_hours
        if entity.timezone == "Europe/Paris":
            assert 42 < entity.latitude < 51.5 and -5 < entity.longitude < 8.5
    stores = stores_of(big_network())
    assert sum(1 for store in stores if store.opening_hours["sun"] == "") > len(stores) / 2


def test_store_naming_example():
    stores = stores_of(generate_network())
    paris = stores[0]
    assert paris.name == "Maison Verte Paris Opéra"
    assert paris.legal_name.split(" ")[-1] in {"SAS", "SARL", "SASU", "EURL"}
    assert paris.email == "paris-opera@maisonverte.example"
    assert paris.website == "https://maisonverte.example/magasins/paris-opera"
    assert paris.postcode == "75009"
    lyon = next(store for store in stores if store.city == "Lyon")
    assert lyon.name == "Maison Verte Lyon Part-Dieu"
    assert lyon.postcode == "69003"
    assert lyon.phone.startswith(("+33472", "+33478"))
    assert abs(lyon.latitude - 45.764) < 0.1 and abs(lyon.longitude - 4.836) < 0.1


def test_stores_are_near_their_city():
    for store in stores_of(big_network()):
        city = generator._city_by_name()[store.city]
        assert abs(store.latitude - city.lat) < 0.05 and abs(store.longitude - city.lon) < 0.1, store.code
        assert store.timezone == city.timezone
        assert store.postcode in city.postcodes


def test_city_table():
    cities = reference.cities()
    metro = [city for city in cities if not city.overseas]
    assert len(metro) >= 80
    assert len({city.name for city in cities}) == len(cities)
    overseas = {city.name for city in cities if city.overseas}
    assert {"Saint-Denis", "Fort-de-France", "Pointe-à-Pitre", "Cayenne"} <= overseas
    for city in cities:
        assert city.postcodes and all(re.fullmatch(r"\d{5}", code) for code in city.postcodes), city.name
        assert all(re.fullmatch(r"\d{3}", prefix) for prefix in city.phone_prefixes), city.name
        assert all(d.postcode is None or d.postcode in city.postcodes for d in city.districts), city.name
        assert len({d.label for d in city.districts}) == len(city.districts), city.name
        assert zoneinfo.ZoneInfo(city.timezone)
    for region_code, region_cities in generator._cities_by_region().items():
        assert region_cities, region_code
    assert reference.regions()[-1] == reference.overseas_region() and reference.overseas_region().code == "OM"
    assert all(not city.overseas for city in metro) and len(metro) + len(overseas) == len(cities)


def test_person_names():
    assert len(FIRST_NAMES) >= 60 and len(set(FIRST_NAMES)) == len(FIRST_NAMES)
    assert len(LAST_NAMES) >= 60 and len(set(LAST_NAMES)) == len(LAST_NAMES)
    first, last = person_name(random.Random(1))
    assert first in FIRST_NAMES and last in LAST_NAMES
    assert person_name(random.Random(1)) == (first, last)


def test_data_files_are_read_once():
    assert reference.regions() is reference.regions()
    assert reference.cities() is reference.cities()
    assert reference.names() is reference.names()


def test_compact_columns_of_the_city_file():
    assert reference.expand_postcodes("69001-69003 69100") == ("69001", "69002", "69003", "69100")
    assert reference.parse_districts("Opéra:75009|Bastille") == (
        reference.District("Opéra", "75009", None),
        reference.District("Bastille", None, None),
    )
    paris = generator._city_by_name()["Paris"]
    assert paris.postcodes[0] == "75001" and paris.postcodes[-1] == "75116" and len(paris.postcodes) == 21
    assert paris.districts[0] == reference.District("Opéra", "75009", None)
    reunion = generator._city_by_name()["Saint-Denis"]
    assert (reunion.timezone, reunion.country_code, reunion.department) == ("Indian/Reunion", "262", "974")
