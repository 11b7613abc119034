"""Deterministic generator of a realistic French retail network (demo and seed data).

Used by ``glocal seed --stores N`` and ``make demo``. Pure standard library: no Django import, so it can
be used (and tested) without settings. The output only depends on the arguments of
:func:`generate_network`: every random choice goes through one ``random.Random(seed)``.

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
from typing import NamedTuple

__all__ = ["FIRST_NAMES", "LAST_NAMES", "SeedEntity", "generate_network", "person_name"]

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# fmt: off
FIRST_NAMES: tuple[str, ...] = (
    "Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Sarah", "Julie", "Marie", "Anne", "Sophie",
    "Claire", "Nathalie", "Isabelle", "Sandrine", "Céline", "Aurélie", "Émilie", "Laura", "Pauline",
    "Mathilde", "Charlotte", "Juliette", "Louise", "Alice", "Clémence", "Margaux", "Élodie", "Hélène",
    "Valérie", "Catherine", "Christine", "Véronique", "Audrey", "Lucie", "Océane", "Agathe", "Zoé",
    "Jeanne", "Anaïs", "Yasmine", "Leïla", "Thomas", "Nicolas", "Julien", "Antoine", "Maxime",
    "Alexandre", "Pierre", "Guillaume", "Romain", "Mathieu", "Sébastien", "Laurent", "Olivier",
    "Philippe", "François", "Stéphane", "David", "Christophe", "Vincent", "Jérôme", "Benoît", "Hugo",
    "Lucas", "Louis", "Arthur", "Théo", "Paul", "Raphaël", "Baptiste", "Quentin", "Clément", "Florian",
    "Kévin", "Adrien", "Damien", "Cédric", "Frédéric", "Éric", "Yannick", "Karim", "Mehdi", "Sofiane",
)

LAST_NAMES: tuple[str, ...] = (
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau", "Laurent",
    "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David", "Bertrand", "Morel", "Fournier", "Girard",
    "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent", "Muller", "Lefèvre", "Faure",
    "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier", "Chevalier", "François", "Legrand",
    "Gauthier", "Garcia", "Perrin", "Robin", "Clément", "Morin", "Nicolas", "Henry", "Roussel",
    "Mathieu", "Gautier", "Masson", "Marchand", "Duval", "Denis", "Dumont", "Lemaire", "Noël", "Meyer",
    "Dufour", "Meunier", "Brun", "Blanchard", "Giraud", "Joly", "Rivière", "Lucas", "Brunet", "Gaillard",
    "Barbier", "Arnaud", "Martinez", "Gérard", "Roche", "Renard", "Schmitt", "Roy", "Leroux", "Colin",
    "Vidal", "Caron", "Picard", "Fabre", "Aubert", "Lemoine", "Renaud", "Dumas", "Lacroix", "Olivier",
    "Bourgeois", "Leclerc", "Le Gall", "Le Goff", "Payet", "Hoarau", "Grondin", "Benali", "Nguyen",
)
# fmt: on


def person_name(rng: random.Random) -> tuple[str, str]:
    """A plausible French ``(first_name, last_name)`` drawn from ``rng``."""
    return rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)


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


# --------------------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------------------


class _Region(NamedTuple):
    code: str  # ISO 3166-2:FR region code, "OM" for the overseas departments
    name: str
    population: float  # millions, drives how many stores a region gets


# Metropolitan regions in the order they are picked when fewer than all of them are wanted.
_METRO_REGIONS: tuple[_Region, ...] = (
    _Region("IDF", "Île-de-France", 12.3),
    _Region("ARA", "Auvergne-Rhône-Alpes", 8.1),
    _Region("PAC", "Provence-Alpes-Côte d'Azur", 5.1),
    _Region("OCC", "Occitanie", 6.0),
    _Region("NAQ", "Nouvelle-Aquitaine", 6.1),
    _Region("HDF", "Hauts-de-France", 6.0),
    _Region("GES", "Grand Est", 5.6),
    _Region("BRE", "Bretagne", 3.4),
    _Region("PDL", "Pays de la Loire", 3.9),
    _Region("NOR", "Normandie", 3.3),
    _Region("BFC", "Bourgogne-Franche-Comté", 2.8),
    _Region("CVL", "Centre-Val de Loire", 2.6),
)
_OVERSEAS_REGION = _Region("OM", "Outre-mer", 1.9)
_MAX_REGIONS = len(_METRO_REGIONS) + 1
# From this many stores on, the Outre-mer region is always part of the network.
_OVERSEAS_FROM_STORES = 10


class _District(NamedTuple):
    label: str
    postcode: str | None  # None: any postcode of the city
    street: str | None  # set when the store is named after its street


class _City(NamedTuple):
    name: str
    region: str
    postcodes: tuple[str, ...]  # the first one is the main postcode
    lat: float
    lon: float
    population: int  # thousands (commune)
    phone_prefixes: tuple[str, ...]  # national significant number prefix, 3 digits, after the country code
    districts: tuple[_District, ...]
    timezone: str
    country_code: str  # E.164 country calling code

    @property
    def department(self) -> str:
        return self.postcodes[0][:3] if self.postcodes[0].startswith("97") else self.postcodes[0][:2]

    @property
    def overseas(self) -> bool:
        return self.region == _OVERSEAS_REGION.code


def _expand_postcodes(spec: str) -> tuple[str, ...]:
    """``"69001-69003 69100"`` → ``("69001", "69002", "69003", "69100")``."""
    codes: list[str] = []
    for token in spec.split():
        first, _, last = token.partition("-")
        if last:
            codes.extend(f"{n:05d}" for n in range(int(first), int(last) + 1))
        else:
            codes.append(first)
    return tuple(codes)


def _city(
    region: str,
    name: str,
    postcodes: str,
    lat: float,
    lon: float,
    population: int,
    phones: str,
    districts: str = "",
    timezone: str = "Europe/Paris",
    country_code: str = "33",
) -> _City:
    """Compact row: ``districts`` is ``"Label:postcode|Label|…"`` (the postcode is optional)."""
    parsed = []
    for item in filter(None, districts.split("|")):
        label, _, postcode = item.partition(":")
        parsed.append(_District(label, postcode or None, None))
    return _City(
        name,
        region,
        _expand_postcodes(postcodes),
        lat,
        lon,
        population,
        tuple(phones.split()),
        tuple(parsed),
        timezone,
        country_code,
    )


# The first city of each region hosts the regional office. Coordinates are approximate city centres.
# fmt: off
_CITIES: tuple[_City, ...] = (
    # Île-de-France
    _city("IDF", "Paris", "75001-75020 75116", 48.8566, 2.3522, 2100, "140 142 143 144 145 147 153 155 156",
          "Opéra:75009|Bastille:75011|Montparnasse:75014|Les Halles:75001|République:75003|"
          "Saint-Lazare:75008|Marais:75004|Batignolles:75017|Nation:75012|Gare de Lyon:75012|"
          "Saint-Germain:75006|Montmartre:75018|Bercy Village:75012|Beaugrenelle:75015|Italie Deux:75013|"
          "Passy:75016|Ternes:75017|Denfert-Rochereau:75014|Belleville:75020|Gambetta:75020|"
          "La Villette:75019|Grands Boulevards:75002|Invalides:75007|Châtelet:75001|Convention:75015|"
          "Alésia:75014|Oberkampf:75011|Canal Saint-Martin:75010|Gare du Nord:75010|Madeleine:75008|"
          "Auteuil:75016|Buttes-Chaumont:75019|Place d'Italie:75013|Mouffetard:75005|Sèvres-Babylone:75007"),
    _city("IDF", "Boulogne-Billancourt", "92100", 48.8397, 2.2399, 121, "146",
          "Les Passages|Pont de Sèvres|Silly-Gallieni|Marcel Sembat"),
    _city("IDF", "Versailles", "78000", 48.8049, 2.1204, 85, "139", "Notre-Dame|Saint-Louis|Chantiers"),
    _city("IDF", "Nanterre", "92000", 48.8924, 2.2071, 96, "147", "Préfecture|Université"),
    _city("IDF", "Argenteuil", "95100", 48.9472, 2.2467, 110, "139", "Côté Seine|Val d'Argent"),
    _city("IDF", "Montreuil", "93100", 48.8638, 2.4485, 110, "148", "Croix de Chavaux|Bas-Montreuil"),
    _city("IDF", "Créteil", "94000", 48.7904, 2.4556, 92, "149", "Créteil Soleil|Préfecture|Village"),
    _city("IDF", "Vincennes", "94300", 48.8474, 2.4395, 50, "143", "Château|Bérault"),
    _city("IDF", "Saint-Germain-en-Laye", "78100", 48.8989, 2.0938, 45, "139", "Château"),
    _city("IDF", "Cergy", "95000 95800", 49.0364, 2.0761, 67, "134",
          "Trois Fontaines|Grand Centre|Le Haut:95800"),
    _city("IDF", "Évry-Courcouronnes", "91000 91080", 48.6290, 2.4410, 67, "160", "Évry 2:91000|Agora:91000"),
    _city("IDF", "Rueil-Malmaison", "92500", 48.8778, 2.1803, 79, "147", "Rueil 2000"),
    _city("IDF", "Neuilly-sur-Seine", "92200", 48.8846, 2.2697, 60, "146", "Sablons"),
    _city("IDF", "Levallois-Perret", "92300", 48.8950, 2.2870, 65, "147", "So Ouest"),
    _city("IDF", "Issy-les-Moulineaux", "92130", 48.8245, 2.2743, 68, "146", "Corentin Celton|Val de Seine"),
    _city("IDF", "Serris", "77700", 48.8453, 2.7864, 30, "160", "Val d'Europe"),
    _city("IDF", "Meaux", "77100", 48.9601, 2.8788, 55, "160"),
    _city("IDF", "Fontainebleau", "77300", 48.4047, 2.7016, 15, "160", "Château"),
    _city("IDF", "Melun", "77000", 48.5421, 2.6554, 41, "164"),
    # Auvergne-Rhône-Alpes
    _city("ARA", "Lyon", "69001-69009", 45.7640, 4.8357, 520, "472 478",
          "Part-Dieu:69003|Confluence:69002|Bellecour:69002|Croix-Rousse:69004|Vaise:69009|Gerland:69007|"
          "Brotteaux:69006|Vieux Lyon:69005|Monplaisir:69008|Guillotière:69007|Terreaux:69001|"
          "Cordeliers:69002|Jean Macé:69007|Masséna:69006"),
    _city("ARA", "Villeurbanne", "69100", 45.7719, 4.8902, 150, "478", "Gratte-Ciel|Charpennes|Cusset"),
    _city("ARA", "Saint-Étienne", "42000 42100", 45.4397, 4.3872, 173, "477",
          "Centre Deux:42000|Carnot:42000|Châteaucreux:42000|Bellevue:42100|Steel:42100"),
    _city("ARA", "Grenoble", "38000 38100", 45.1885, 5.7245, 158, "476",
          "Grand Place:38100|Victor Hugo:38000|Championnet:38000|Île Verte:38000|Caserne de Bonne:38000"),
    _city("ARA", "Clermont-Ferrand", "63000 63100", 45.7772, 3.0870, 147, "473",
          "Jaude:63000|Delille:63000|Montferrand:63100|Les Salins:63000"),
    _city("ARA", "Annecy", "74000", 45.8992, 6.1294, 130, "450", "Vieille Ville|Courier|Bonlieu|Seynod"),
    _city("ARA", "Chambéry", "73000", 45.5646, 5.9178, 60, "479", "Carré Curial|Bissy"),
    _city("ARA", "Valence", "26000", 44.9334, 4.8924, 64, "475", "Victor Hugo|Polygone|Briffaut"),
    _city("ARA", "Bourg-en-Bresse", "01000", 46.2052, 5.2255, 42, "474", "Brou"),
    _city("ARA", "Roanne", "42300", 46.0340, 4.0720, 34, "477"),
    _city("ARA", "Vichy", "03200", 46.1277, 3.4260, 25, "470"),
    _city("ARA", "Aurillac", "15000", 44.9264, 2.4397, 25, "471"),
    _city("ARA", "Le Puy-en-Velay", "43000", 45.0434, 3.8858, 19, "471"),
    _city("ARA", "Annemasse", "74100", 46.1934, 6.2342, 36, "450"),
    # Provence-Alpes-Côte d'Azur
    _city("PAC", "Marseille", "13001-13016", 43.2965, 5.3698, 870, "491",
          "Vieux-Port:13001|Canebière:13001|Castellane:13006|La Joliette:13002|Terrasses du Port:13002|"
          "Prado:13008|Valentine:13011|Grand Littoral:13016|Bonneveine:13008|La Plaine:13005|"
          "Saint-Barnabé:13012|Les Chartreux:13004|Cinq Avenues:13004|Mazargues:13009|Baille:13005"),
    _city("PAC", "Nice", "06000 06100 06200 06300", 43.7102, 7.2620, 342, "493",
          "Masséna:06000|Nice Étoile:06000|Jean Médecin:06000|Libération:06100|Port Lympia:06300|"
          "Saint-Roch:06300|Arenas:06200|Cimiez:06000|Fabron:06200|Riquier:06300"),
    _city("PAC", "Toulon", "83000 83100 83200", 43.1242, 5.9280, 178, "494",
          "Mayol:83000|Le Mourillon:83000|Pont-du-Las:83200|Saint-Jean-du-Var:83100|Haute Ville:83000"),
    _city("PAC", "Aix-en-Provence", "13090 13100", 43.5297, 5.4474, 145, "442",
          "Cours Mirabeau:13100|Allées Provençales:13100|Jas de Bouffan:13090|Rotonde:13100"),
    _city("PAC", "Avignon", "84000 84140", 43.9493, 4.8055, 91, "490",
          "Intra-Muros:84000|Cap Sud:84000|Montfavet:84140"),
    _city("PAC", "Cannes", "06400 06150", 43.5528, 7.0174, 74, "493",
          "Croisette:06400|La Bocca:06150|Le Suquet:06400"),
    _city("PAC", "Antibes", "06600 06160", 43.5808, 7.1251, 73, "493",
          "Vieil Antibes:06600|Juan-les-Pins:06160"),
    _city("PAC", "Fréjus", "83600", 43.4330, 6.7370, 54, "494", "Port-Fréjus"),
    _city("PAC", "Hyères", "83400", 43.1204, 6.1286, 56, "494"),
    _city("PAC", "Martigues", "13500", 43.4053, 5.0475, 49, "442"),
    _city("PAC", "Arles", "13200", 43.6766, 4.6278, 51, "490"),
    _city("PAC", "Gap", "05000", 44.5594, 6.0786, 41, "492"),
    _city("PAC", "Menton", "06500", 43.7747, 7.4975, 30, "493"),
    _city("PAC", "Digne-les-Bains", "04000", 44.0925, 6.2356, 16, "492"),
    # Occitanie
    _city("OCC", "Toulouse", "31000 31100 31200 31300 31400 31500", 43.6047, 1.4442, 500, "561 562 534",
          "Capitole:31000|Carmes:31000|Saint-Cyprien:31300|Compans-Caffarelli:31000|Purpan:31300|"
          "Rangueil:31400|Saint-Michel:31400|Minimes:31200|Jeanne d'Arc:31000|Saint-Agne:31400|"
          "Borderouge:31200|Jolimont:31500|Lardenne:31100|Mirail:31100"),
    _city("OCC", "Montpellier", "34000 34070 34080 34090", 43.6108, 3.8767, 300, "467 499",
          "Comédie:34000|Polygone:34000|Odysseum:34000|Antigone:34000|Port Marianne:34000|Écusson:34000|"
          "Arceaux:34000|Mosson:34080|Croix d'Argent:34070|Beaux-Arts:34000|Hôpitaux-Facultés:34090"),
    _city("OCC", "Nîmes", "30000 30900", 43.8367, 4.3601, 149, "466",
          "Arènes:30000|Maison Carrée:30000|Carré d'Art:30000|Pissevin:30900|Cap Costières:30900"),
    _city("OCC", "Perpignan", "66000 66100", 42.6887, 2.8948, 120, "468",
          "Castillet:66000|Saint-Jean:66000|Moulin à Vent:66100|Saint-Assiscle:66000"),
    _city("OCC", "Béziers", "34500", 43.3442, 3.2158, 78, "467", "Allées Paul Riquet|Polygone"),
    _city("OCC", "Montauban", "82000", 44.0176, 1.3550, 61, "563"),
    _city("OCC", "Narbonne", "11100", 43.1840, 3.0036, 56, "468"),
    _city("OCC", "Albi", "81000", 43.9289, 2.1464, 49, "563", "Sainte-Cécile"),
    _city("OCC", "Carcassonne", "11000", 43.2130, 2.3491, 46, "468", "Cité|Bastide"),
    _city("OCC", "Sète", "34200", 43.4028, 3.6977, 44, "467"),
    _city("OCC", "Tarbes", "65000", 43.2328, 0.0781, 42, "562"),
    _city("OCC", "Castres", "81100", 43.6060, 2.2400, 42, "563"),
    _city("OCC", "Alès", "30100", 44.1250, 4.0810, 42, "466"),
    _city("OCC", "Rodez", "12000", 44.3506, 2.5750, 25, "565"),
    _city("OCC", "Auch", "32000", 43.6460, 0.5857, 22, "562"),
    # Nouvelle-Aquitaine
    _city("NAQ", "Bordeaux", "33000 33100 33200 33300 33800", 44.8378, -0.5792, 260, "556 557",
          "Sainte-Catherine:33000|Mériadeck:33000|Chartrons:33300|Bastide:33100|Saint-Michel:33800|"
          "Bassins à Flot:33300|Caudéran:33200|Gare Saint-Jean:33800|Saint-Pierre:33000|"
          "Grands Hommes:33000|Victoire:33000|Saint-Augustin:33000|Bacalan:33300"),
    _city("NAQ", "Limoges", "87000 87100 87280", 45.8336, 1.2611, 130, "555",
          "Saint-Martial:87000|Bénédictins:87000|Carnot:87000|Montjovis:87100|Beaubreuil:87280"),
    _city("NAQ", "Poitiers", "86000", 46.5802, 0.3404, 90, "549", "Notre-Dame|Cordeliers|Beaulieu"),
    _city("NAQ", "La Rochelle", "17000", 46.1603, -1.1511, 77, "546", "Vieux Port|Minimes|Beaulieu"),
    _city("NAQ", "Pau", "64000", 43.2951, -0.3708, 77, "559", "Palais des Pyrénées|Hédas"),
    _city("NAQ", "Mérignac", "33700", 44.8386, -0.6436, 72, "556", "Mérignac Soleil"),
    _city("NAQ", "Niort", "79000", 46.3237, -0.4588, 59, "549"),
    _city("NAQ", "Bayonne", "64100", 43.4929, -1.4748, 52, "559", "Petit Bayonne|Grand Bayonne|Saint-Esprit"),
    _city("NAQ", "Brive-la-Gaillarde", "19100", 45.1589, 1.5321, 46, "555"),
    _city("NAQ", "Angoulême", "16000", 45.6484, 0.1562, 42, "545"),
    _city("NAQ", "Agen", "47000", 44.2033, 0.6163, 33, "553"),
    _city("NAQ", "Périgueux", "24000", 45.1846, 0.7211, 30, "553"),
    _city("NAQ", "Mont-de-Marsan", "40000", 43.8902, -0.4997, 30, "558"),
    _city("NAQ", "Biarritz", "64200", 43.4832, -1.5586, 25, "559", "Grande Plage|Port Vieux"),
    _city("NAQ", "Arcachon", "33120", 44.6586, -1.1689, 11, "556"),
    # Hauts-de-France
    _city("HDF", "Lille", "59000 59160 59260 59777 59800", 50.6292, 3.0573, 235, "320 328",
          "Grand Place:59800|Vieux-Lille:59800|Euralille:59777|Wazemmes:59000|Saint-Maurice:59800|"
          "Lomme:59160|Fives:59800|Vauban:59000|Gambetta:59000|Hellemmes:59260|Moulins:59000"),
    _city("HDF", "Amiens", "80000 80080 80090", 49.8941, 2.2958, 134, "322",
          "Saint-Leu:80000|Cathédrale:80000|Henriville:80000|Étouvie:80080"),
    _city("HDF", "Roubaix", "59100", 50.6942, 3.1746, 98, "320", "Grand-Place|Espace Grand'Rue"),
    _city("HDF", "Tourcoing", "59200", 50.7239, 3.1612, 98, "320"),
    _city("HDF", "Dunkerque", "59140 59240", 51.0344, 2.3768, 87, "328",
          "Pôle Marine:59140|Malo-les-Bains:59240"),
    _city("HDF", "Calais", "62100", 50.9513, 1.8587, 67, "321", "Calais-Nord|Cœur de Vie"),
    _city("HDF", "Villeneuve-d'Ascq", "59650 59491", 50.6233, 3.1450, 62, "320",
          "V2:59650|Pont de Bois:59650"),
    _city("HDF", "Beauvais", "60000", 49.4300, 2.0800, 56, "344"),
    _city("HDF", "Saint-Quentin", "02100", 49.8465, 3.2876, 53, "323"),
    _city("HDF", "Valenciennes", "59300", 50.3570, 3.5235, 43, "327", "Place d'Armes|Cœur de Ville"),
    _city("HDF", "Arras", "62000", 50.2910, 2.7775, 42, "321", "Place des Héros"),
    _city("HDF", "Boulogne-sur-Mer", "62200", 50.7264, 1.6147, 41, "321"),
    _city("HDF", "Compiègne", "60200", 49.4179, 2.8261, 40, "344"),
    _city("HDF", "Douai", "59500", 50.3714, 3.0800, 39, "327"),
    _city("HDF", "Lens", "62300", 50.4329, 2.8331, 31, "321"),
    # Grand Est
    _city("GES", "Strasbourg", "67000 67100 67200", 48.5734, 7.7521, 290, "388 390",
          "Kléber:67000|Petite France:67000|Rivetoile:67100|Krutenau:67000|Neudorf:67100|Esplanade:67000|"
          "Robertsau:67000|Hautepierre:67200|Cronenbourg:67200|Place des Halles:67000"),
    _city("GES", "Reims", "51100", 49.2583, 4.0317, 180, "326",
          "Drouet d'Erlon|Clairmarais|Saint-Remi|Cernay"),
    _city("GES", "Metz", "57000 57050 57070", 49.1193, 6.1757, 118, "387",
          "Saint-Jacques:57000|Muse:57000|Serpenoise:57000|Sablon:57000|Borny:57070|Devant-les-Ponts:57050"),
    _city("GES", "Mulhouse", "68100 68200", 47.7508, 7.3359, 108, "389",
          "Porte Jeune:68100|Place de la Réunion:68100|Dornach:68200"),
    _city("GES", "Nancy", "54000 54100", 48.6921, 6.1844, 105, "383",
          "Stanislas:54000|Saint-Sébastien:54000"),
    _city("GES", "Colmar", "68000", 48.0794, 7.3585, 70, "389", "Petite Venise"),
    _city("GES", "Troyes", "10000", 48.2973, 4.0744, 62, "325", "Bouchon de Champagne"),
    _city("GES", "Charleville-Mézières", "08000", 49.7620, 4.7262, 46, "324", "Place Ducale"),
    _city("GES", "Châlons-en-Champagne", "51000", 48.9566, 4.3631, 44, "326"),
    _city("GES", "Thionville", "57100", 49.3579, 6.1683, 41, "382"),
    _city("GES", "Haguenau", "67500", 48.8156, 7.7906, 35, "388"),
    _city("GES", "Épinal", "88000", 48.1725, 6.4496, 32, "329"),
    _city("GES", "Saint-Dizier", "52100", 48.6383, 4.9497, 24, "325"),
    _city("GES", "Sélestat", "67600", 48.2596, 7.4544, 19, "388"),
    # Bretagne
    _city("BRE", "Rennes", "35000 35200 35700", 48.1173, -1.6778, 222, "299 223",
          "République:35000|Colombier:35000|Sainte-Anne:35000|Thabor:35700|Cleunay:35200|Villejean:35000|"
          "Bréquigny:35200|Alma:35200|Saint-Hélier:35000|Beaulieu:35700|Maurepas:35700"),
    _city("BRE", "Brest", "29200", 48.3904, -4.4861, 140, "298",
          "Siam|Jaurès|Recouvrance|Capucins|Saint-Martin"),
    _city("BRE", "Quimper", "29000", 47.9960, -4.1024, 63, "298", "Locmaria|Kerfeunteun"),
    _city("BRE", "Lorient", "56100", 47.7483, -3.3700, 57, "297", "Merville|Bois du Château"),
    _city("BRE", "Vannes", "56000", 47.6582, -2.7608, 54, "297", "Intra-Muros|Kercado"),
    _city("BRE", "Saint-Malo", "35400", 48.6493, -2.0257, 47, "299", "Intra-Muros|Saint-Servan|Paramé"),
    _city("BRE", "Saint-Brieuc", "22000", 48.5136, -2.7653, 44, "296"),
    _city("BRE", "Lannion", "22300", 48.7326, -3.4566, 20, "296"),
    _city("BRE", "Fougères", "35300", 48.3524, -1.1994, 20, "299"),
    _city("BRE", "Concarneau", "29900", 47.8753, -3.9189, 20, "298", "Ville Close"),
    _city("BRE", "Morlaix", "29600", 48.5777, -3.8280, 15, "298"),
    _city("BRE", "Dinan", "22100", 48.4556, -2.0503, 15, "296"),
    # Pays de la Loire
    _city("PDL", "Nantes", "44000 44100 44200 44300", 47.2184, -1.5536, 320, "240 251",
          "Commerce:44000|Bouffay:44000|Graslin:44000|Île de Nantes:44200|Beaulieu:44200|Chantenay:44100|"
          "Doulon:44300|Talensac:44000|Erdre:44300|Saint-Félix:44300|Passage Pommeraye:44000"),
    _city("PDL", "Angers", "49000 49100", 47.4784, -0.5632, 157, "241",
          "Ralliement:49100|Saint-Serge:49100|Doutre:49100|Lac de Maine:49000|Monplaisir:49000"),
    _city("PDL", "Le Mans", "72000 72100", 48.0061, 0.1996, 145, "243",
          "Jacobins:72000|République:72000|Cité Plantagenêt:72000|Sablons:72100"),
    _city("PDL", "Saint-Nazaire", "44600", 47.2735, -2.2138, 72, "240", "Ruban Bleu|Paquebot"),
    _city("PDL", "La Roche-sur-Yon", "85000", 46.6705, -1.4260, 55, "251", "Napoléon|Bourg-sous-la-Roche"),
    _city("PDL", "Cholet", "49300", 47.0600, -0.8789, 54, "241"),
    _city("PDL", "Laval", "53000", 48.0706, -0.7734, 50, "243"),
    _city("PDL", "Saint-Herblain", "44800", 47.2118, -1.6496, 46, "240", "Atlantis"),
    _city("PDL", "Les Sables-d'Olonne", "85100", 46.4968, -1.7831, 45, "251"),
    _city("PDL", "Saumur", "49400", 47.2600, -0.0769, 27, "241"),
    _city("PDL", "La Baule-Escoublac", "44500", 47.2863, -2.3910, 16, "240"),
    # Normandie
    _city("NOR", "Rouen", "76000 76100", 49.4432, 1.0999, 114, "235 232",
          "Gros-Horloge:76000|Vieux-Marché:76000|Saint-Sever:76100|Docks 76:76000|Jouvenet:76000"),
    _city("NOR", "Le Havre", "76600 76610 76620", 49.4944, 0.1079, 170, "235",
          "Docks Vauban:76600|Espace Coty:76600|Rond-Point:76600|Sanvic:76620"),
    _city("NOR", "Caen", "14000", 49.1829, -0.3707, 108, "231",
          "Saint-Pierre|Vaugueux|Rives de l'Orne|Folie-Couvrechef"),
    _city("NOR", "Cherbourg-en-Cotentin", "50100 50130", 49.6337, -1.6222, 78, "233",
          "Les Eleis:50100|Octeville:50130"),
    _city("NOR", "Évreux", "27000", 49.0241, 1.1508, 47, "232"),
    _city("NOR", "Dieppe", "76200", 49.9225, 1.0781, 29, "235"),
    _city("NOR", "Alençon", "61000", 48.4329, 0.0913, 26, "233"),
    _city("NOR", "Vernon", "27200", 49.0921, 1.4853, 24, "232"),
    _city("NOR", "Lisieux", "14100", 49.1466, 0.2265, 20, "231"),
    _city("NOR", "Saint-Lô", "50000", 49.1157, -1.0906, 19, "233"),
    _city("NOR", "Deauville", "14800", 49.3575, 0.0746, 4, "231"),
    # Bourgogne-Franche-Comté
    _city("BFC", "Dijon", "21000", 47.3220, 5.0415, 160, "380",
          "Darcy|Toison d'Or|Liberté|Grangier|Montchapet|Fontaine d'Ouche"),
    _city("BFC", "Besançon", "25000", 47.2378, 6.0241, 118, "381", "Battant|Granvelle|Chamars|Planoise"),
    _city("BFC", "Belfort", "90000", 47.6397, 6.8638, 47, "384", "Faubourg de France"),
    _city("BFC", "Chalon-sur-Saône", "71100", 46.7806, 4.8539, 45, "385"),
    _city("BFC", "Auxerre", "89000", 47.7982, 3.5673, 35, "386"),
    _city("BFC", "Mâcon", "71000", 46.3069, 4.8287, 34, "385"),
    _city("BFC", "Nevers", "58000", 46.9909, 3.1591, 33, "386"),
    _city("BFC", "Sens", "89100", 48.1975, 3.2833, 27, "386"),
    _city("BFC", "Montbéliard", "25200", 47.5100, 6.7983, 25, "381"),
    _city("BFC", "Dole", "39100", 47.0925, 5.4897, 23, "384"),
    _city("BFC", "Beaune", "21200", 47.0260, 4.8400, 20, "380"),
    _city("BFC", "Vesoul", "70000", 47.6228, 6.1557, 15, "384"),
    # Centre-Val de Loire
    _city("CVL", "Orléans", "45000 45100", 47.9029, 1.9093, 117, "238",
          "Place d'Arc:45000|Martroi:45000|République:45000|La Source:45100|Saint-Marceau:45100"),
    _city("CVL", "Tours", "37000 37100 37200", 47.3941, 0.6848, 136, "247",
          "Place Plumereau:37000|Vieux Tours:37000|Les Deux-Lions:37200|Tours Nord:37100|"
          "Rives du Cher:37200"),
    _city("CVL", "Bourges", "18000", 47.0810, 2.3988, 64, "248", "Avaricum|Moyenne"),
    _city("CVL", "Blois", "41000", 47.5861, 1.3359, 46, "254", "Château|Louis XII|Vienne"),
    _city("CVL", "Châteauroux", "36000", 46.8103, 1.6913, 43, "254"),
    _city("CVL", "Chartres", "28000", 48.4439, 1.4890, 39, "237", "Épars|Madeleine"),
    _city("CVL", "Joué-lès-Tours", "37300", 47.3523, 0.6631, 38, "247"),
    _city("CVL", "Dreux", "28100", 48.7366, 1.3663, 31, "237"),
    _city("CVL", "Vierzon", "18100", 47.2219, 2.0686, 26, "248"),
    _city("CVL", "Montargis", "45200", 47.9974, 2.7325, 15, "238"),
    _city("CVL", "Amboise", "37400", 47.4133, 0.9824, 13, "247"),
    # Outre-mer (overseas departments: own time zones and calling codes, still country "FR")
    _city("OM", "Saint-Denis", "97400 97490", -20.8789, 55.4481, 153, "262",
          "Barachois:97400|Sainte-Clotilde:97490|Le Chaudron:97490", "Indian/Reunion", "262"),
    _city("OM", "Saint-Paul", "97460", -21.0096, 55.2707, 105, "262", "Front de Mer|Savanna",
          "Indian/Reunion", "262"),
    _city("OM", "Saint-Pierre", "97410", -21.3393, 55.4781, 85, "262", "Front de Mer|Ravine Blanche",
          "Indian/Reunion", "262"),
    _city("OM", "Le Tampon", "97430", -21.2779, 55.5177, 80, "262", "", "Indian/Reunion", "262"),
    _city("OM", "Fort-de-France", "97200 97234", 14.6161, -61.0588, 77, "596",
          "Cluny:97200|Terres-Sainville:97200|Dillon:97200",
          "America/Martinique", "596"),
    _city("OM", "Le Lamentin", "97232", 14.6130, -60.9990, 40, "596", "Place d'Armes|Acajou",
          "America/Martinique", "596"),
    _city("OM", "Pointe-à-Pitre", "97110", 16.2411, -61.5331, 50, "590", "Place de la Victoire|Darse",
          "America/Guadeloupe", "590"),
    _city("OM", "Les Abymes", "97139", 16.2710, -61.5045, 53, "590", "Raizet|Milénis",
          "America/Guadeloupe", "590"),
    _city("OM", "Baie-Mahault", "97122", 16.2675, -61.5856, 31, "590", "Destreland|Jarry",
          "America/Guadeloupe", "590"),
    _city("OM", "Cayenne", "97300", 4.9224, -52.3135, 63, "594", "Place des Palmistes|Baduel",
          "America/Cayenne", "594"),
    _city("OM", "Matoury", "97351", 4.8475, -52.3260, 33, "594", "", "America/Cayenne", "594"),
    _city("OM", "Kourou", "97310", 5.1597, -52.6503, 25, "594", "", "America/Cayenne", "594"),
)
# fmt: on

# Streets used for addresses; a store can also be named after its street ("Maison Verte Tours Rue Nationale").
# fmt: off
_STREETS: tuple[str, ...] = (
    "rue de la République", "avenue Jean Jaurès", "boulevard Victor Hugo", "rue Nationale",
    "place du Général de Gaulle", "rue Gambetta", "cours de la Liberté", "avenue de la Libération",
    "rue du Général Leclerc", "avenue du Maréchal Foch", "rue Pasteur", "rue de Paris",
    "boulevard de Strasbourg", "rue Carnot", "avenue Charles de Gaulle", "rue Jean Moulin", "rue des Écoles",
    "rue de l'Église",
    "place de la Mairie", "rue du Commerce", "rue Émile Zola", "avenue de Verdun", "rue Saint-Martin",
    "rue du Château", "boulevard Pasteur", "rue Voltaire", "rue de la Gare", "avenue Thiers",
    "rue Aristide Briand", "rue Jules Ferry", "boulevard Clemenceau", "rue Anatole France", "rue Paul Bert",
    "rue des Lilas", "rue de la Paix", "rue La Fayette", "rue Danton", "avenue de l'Europe", "rue Molière",
    "rue Racine", "boulevard de la Liberté", "rue Pierre Curie", "rue Jeanne d'Arc", "rue du 8 Mai 1945",
    "rue du 11 Novembre", "rue Condorcet", "rue des Tanneurs", "place du Marché", "rue des Jardins",
    "rue du Maréchal Joffre", "rue Alsace-Lorraine", "rue de Verdun",
)

# Neighbourhood or shopping-centre names plausible in any French city.
_GENERIC_DISTRICTS: tuple[str, ...] = (
    "Centre-Ville", "Gare", "Hôtel de Ville", "Les Halles", "Cathédrale", "Vieille Ville", "Université",
    "Marché", "Faubourg", "Zone Nord", "Zone Sud", "Zone Est", "Zone Ouest", "Centre Commercial",
    "Les Arcades", "Le Forum", "Les Portes", "Parc des Expositions", "Hôpital", "Jardin Public", "Les Quais",
    "Technopole", "Pôle Commercial", "Bellevue", "Les Tilleuls", "Le Moulin", "Saint-Jacques", "Saint-Jean",
    "Saint-Michel", "Les Chênes", "Mairie", "Champ de Foire", "Les Coteaux", "Le Parc", "La Roseraie",
    "Les Prés", "Porte de Ville", "Croix Blanche", "Le Lac", "Val Fleuri",
)
# fmt: on

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


def _distance_km(a: _City, b: _City) -> float:
    """Equirectangular approximation, plenty for "is this city nearby"."""
    x = math.radians(b.lon - a.lon) * math.cos(math.radians((a.lat + b.lat) / 2))
    y = math.radians(b.lat - a.lat)
    return 6371.0 * math.hypot(x, y)


def _neighbour_postcodes() -> dict[str, tuple[str, ...]]:
    """Main postcodes of the other cities of the same region within ``_NEIGHBOUR_KM``, nearest first."""
    result = {}
    for city in _CITIES:
        near = []
        for other in _CITIES:
            if other is not city and other.region == city.region:
                distance = _distance_km(city, other)
                if distance <= _NEIGHBOUR_KM:
                    near.append((distance, other.postcodes[0]))
        near.sort()
        result[city.name] = tuple(postcode for _, postcode in near)
    return result


_NEIGHBOURS = _neighbour_postcodes()


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
        self.district_pools: dict[str, list[_District]] = {}
        self.district_cursor: dict[str, int] = {}

    # -- field generators ---------------------------------------------------------------------------------

    def phone(self, city: _City) -> str:
        prefix = self.rng.choice(city.phone_prefixes)
        while True:
            number = f"+{city.country_code}{prefix}{self.rng.randint(100000, 999999)}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def address(self, street: str | None = None) -> str:
        return f"{self.rng.randint(1, 150)} {street or self.rng.choice(_STREETS)}"

    def manager(self) -> str:
        first, last = person_name(self.rng)
        return f"{first} {last}"

    def catchment(self, city: _City, postcode: str) -> tuple[str, ...]:
        """2 to 5 postcodes: the entity's own, then other postcodes of the city and of nearby cities, then
        plausible postcodes of the same department."""
        wanted = self.rng.randint(2, 5)
        nearby = [code for code in city.postcodes if code != postcode]
        self.rng.shuffle(nearby)
        codes = [postcode]
        for code in nearby + list(_NEIGHBOURS[city.name]):
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

    def store_hours(self, city: _City) -> dict[str, str]:
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

    def coordinates(self, city: _City, spread: float) -> tuple[float, float]:
        lat = city.lat + self.rng.uniform(-spread, spread)
        lon = city.lon + self.rng.uniform(-spread, spread) / max(0.3, math.cos(math.radians(city.lat)))
        return round(lat, 6), round(lon, 6)

    def next_district(self, city: _City) -> tuple[str, _District]:
        """The next unused store label of ``city`` and its district.

        Known districts come first (in table order), then generic neighbourhoods and street names in a
        seeded order; once all are used the labels are reused with a number ("Opéra 2")."""
        pool = self.district_pools.get(city.name)
        if pool is None:
            known = {district.label for district in city.districts}
            extra = [_District(label, None, None) for label in _GENERIC_DISTRICTS if label not in known]
            extra += [
                _District(street[0].upper() + street[1:], None, street)
                for street in _STREETS
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
        paris = _CITY_BY_NAME["Paris"]
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

    def region(self, region: _Region) -> SeedEntity:
        capital = _CITIES_BY_REGION[region.code][0]
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

    def store(self, code: str, parent_code: str, city: _City) -> SeedEntity:
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


_CITY_BY_NAME = {city.name: city for city in _CITIES}
_CITIES_BY_REGION: dict[str, tuple[_City, ...]] = {
    region.code: tuple(city for city in _CITIES if city.region == region.code)
    for region in (*_METRO_REGIONS, _OVERSEAS_REGION)
}


def _region_count(stores: int, regions: int | None) -> int:
    if regions is None:
        count = max(1, min(len(_METRO_REGIONS), round(stores / 10)))
        if stores >= _OVERSEAS_FROM_STORES:
            count = max(count, 2)  # room for the Outre-mer region next to a metropolitan one
        return count
    if not 1 <= regions <= _MAX_REGIONS:
        raise ValueError(f"regions must be between 1 and {_MAX_REGIONS}, got {regions}")
    if regions > stores:
        raise ValueError(f"every region needs a store: {regions} regions for {stores} stores")
    if regions < 2 and stores >= _OVERSEAS_FROM_STORES:
        raise ValueError(f"from {_OVERSEAS_FROM_STORES} stores on, the network has an Outre-mer region too")
    return regions


def _choose_regions(stores: int, count: int) -> list[_Region]:
    overseas = stores >= _OVERSEAS_FROM_STORES or count == _MAX_REGIONS
    chosen = list(_METRO_REGIONS[: count - 1 if overseas else count])
    if overseas:
        chosen.append(_OVERSEAS_REGION)
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
        cities = _CITIES_BY_REGION[region.code]
        per_city = [0] * len(cities)
        per_city[0] = 1  # the regional capital always has a store
        weights = [math.sqrt(city.population) for city in cities]
        for index in rng.choices(range(len(cities)), weights=weights, k=count - 1):
            per_city[index] += 1
        for city, city_count in zip(cities, per_city, strict=True):
            for _ in range(city_count):
                number += 1
                entities.append(builder.store(f"S-{number:0{width}d}", f"R-{region.code}", city))
    return entities
