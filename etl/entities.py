"""Entities of one document, resolved across its mentions: what the facets show.

Pure (no model): ``resolve_entities`` takes the model's mentions of one document and returns its
entities, each with one name, one type, a mention count and the other forms as aliases.

The rules, in order:

1. **Names** are cleaned as a reader writes them (``etl.entity_names``: titles and role words
   off, "U.S." and "Inc." kept, quotes, possessives and scores dropped).
2. **Headlines**: a mention inside an all-capitals line ("BURE SUSPENDED"), or a person written
   in capitals, never creates an entity on its own: it only counts for a name the document
   also writes normally.
3. **Type by majority**: a name's type is the one most of its mentions have (ties: the first).
4. **Short forms** count for the fullest name of the same type: "Putin" for "Vladimir Putin",
   "ECB" for "European Central Bank", "Palace" for "Crystal Palace". A surname joins a full
   name only if their types agree, with one exception, the model's most common slip: a lone
   surname it called an organisation ("Kushner") joins the one person whose surname it is.
   A multi-word "organisation" that reads like a personal name, whose surname the document
   calls a person more often, is that person ("Salem Bitar" beside "Bitar" x3).
5. **Places**: a place never becomes the alias of an organisation or club named after it
   ("Munich" is not "Munich Re"). Location names are matched to the gazetteer (``etl.places``):
   its name is the facet value, the country code is kept, and "U.S.", "US", "America" become
   one entity "United States". An organisation or person that is in fact a country, capital,
   US state, continent or well-known region ("Crimea") is a location; so is a lone "person"
   word that is a city of 100,000 people or more. A one-word "place" the gazetteer does not
   know that reads like a demonym ("Ukrainian", "Nordic") is a group.

Canonical names follow stable rules, so one person or place has one facet value across the
index: the gazetteer's name for places; for people the longest full form in the document, with
the other forms as aliases, then across documents ``etl.people`` (a surname alone is the one
person the index knows by it; spellings of one name take the one most documents use); for
organisations the name as written, without a legal suffix when the document also uses the bare
name ("Apple" for "Apple Inc." and "Apple").
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from etl import places
from etl.entity_names import (
    GENERIC_ORGS,
    ORG_WORDS,
    PARTICLES,
    clean_name,
    initials,
    is_acronym,
    is_all_caps,
    is_capitalised,
    person_name,
    person_tokens,
    split_trailing_number,
    without_legal_suffix,
)
from etl.record import Entity

# spaCy (OntoNotes) labels -> our entity types. Everything else (numbers, money, ...) is dropped.
LABEL_TYPES = {
    "PERSON": "person",
    "ORG": "organization",
    "GPE": "location",
    "LOC": "location",
    "FAC": "location",
    "NORP": "group",
    "EVENT": "event",
    "PRODUCT": "product",
    "WORK_OF_ART": "work",
    "LAW": "law",
}
# Types whose names may carry a trailing score or number ("Crystal Palace 2").
_NUMBERED_TYPES = frozenset({"person", "organization", "location"})


@dataclass(frozen=True, slots=True)
class Mention:
    """One span the model tagged in a document's text."""

    text: str
    label: str  # spaCy label
    shouted: bool = False  # inside an all-capitals line: a headline, a kicker, a label


# --- resolution --------------------------------------------------------------------------


@dataclass(slots=True)
class _Name:
    """One name of the document with all its mentions."""

    name: str
    first: int  # order of its first mention
    votes: Counter[str] = field(default_factory=Counter)  # type -> mentions, normal ones
    first_type: str = ""
    count: int = 0
    forms: set[str] = field(default_factory=set)  # every cleaned surface form
    numbers: Counter[str] = field(default_factory=Counter)
    bare: int = 0  # mentions without a trailing number
    type: str = ""
    country: str = ""


def resolve_entities(mentions: Sequence[Mention]) -> list[Entity]:
    """The entities of one document: short forms and possessives count for the fullest name of
    the same type, places take the gazetteer's name, types are decided by the majority.

    Within one document, "Putin" and "Putin's" count for "Vladimir Putin", and "Kushner" for
    "Jared Kushner" even where the model tagged that mention as an organisation; an acronym
    counts for the organisation whose initials it is; "U.S." and "America" for "United
    States". Facets then count people, not strings."""
    names = _collect(mentions)
    if not names:
        return []
    for n in names.values():
        n.type = _majority(n)
    _persons_named_like_organisations(names)
    _lone_words_inside_other_names(names)
    target = _short_forms(names)
    merged = _merge(names, target)
    _places(merged)
    merged = _merge_same(merged)
    entities = [
        Entity(
            name=n.name,
            type=n.type,
            count=n.count,
            aliases=sorted(n.forms - {n.name}),
            country=n.country or None,
        )
        for n in merged
    ]
    entities.sort(key=lambda e: (-e.count, e.type, e.name))
    return entities


def _collect(mentions: Sequence[Mention]) -> dict[str, _Name]:
    """Cleaned mentions grouped by name (case folded); headline mentions only where the name
    is also written normally."""
    strong: dict[str, _Name] = {}
    weak: list[tuple[int, str, str, str]] = []
    for i, m in enumerate(mentions):
        etype = LABEL_TYPES.get(m.label)
        if etype is None:
            continue
        name = clean_name(_one_line(m.text))
        if any(mark in name for mark in ("@", "http", "www.")):
            continue  # a handle or an address, not a name
        number = ""
        if etype in _NUMBERED_TYPES:
            name, number = split_trailing_number(name)
        if etype == "person":
            name = person_name(name)
        if len(name) < 2 or not any(is_capitalised(w) for w in name.split()):
            continue  # no name without a capital letter: "naira", "east coast"
        if m.shouted or (is_all_caps(name) and (etype == "person" or " " in name)):
            weak.append((i, name, etype, number))
            continue
        if etype == "organization" and name.casefold() in GENERIC_ORGS:
            continue  # "State" of "Secretary of State": no organisation of its own
        if number and etype in ("location", "person"):
            etype = "organization"  # "Crystal Palace 2", "Everton 1": a team in a result
        key = name.casefold()
        n = strong.get(key)
        if n is None:
            n = strong[key] = _Name(name=name, first=i, first_type=etype)
        n.votes[etype] += 1
        _count(n, name, number)
    # The display form: the most used form of the name.
    forms_used: dict[str, Counter[str]] = defaultdict(Counter)
    for m in mentions:
        name = clean_name(_one_line(m.text))
        forms_used[name.casefold()][name] += 1
    for key, n in strong.items():
        if forms_used.get(key):
            best = max(n.forms, key=lambda f: (forms_used[key][f], not is_all_caps(f) or " " in f))
            n.name = best
    people_parts = _person_parts(strong)
    for _i, name, etype, number in weak:
        key = name.casefold()
        match = strong.get(key)
        if match is None and etype == "person" and " " not in name:
            full = people_parts.get(key)
            match = strong.get(full.casefold()) if full else None
            if match is not None:
                match.count += 1  # "BURE" counts for Pavel Bure; no capitals alias
                continue
        if match is not None:
            _count(match, match.name if is_all_caps(name) else name, number)
    for n in strong.values():
        # A number on every mention, twice or more, is part of the name ("Formula 1").
        if n.bare == 0 and len(n.numbers) == 1 and n.numbers.most_common(1)[0][1] >= 2:
            n.name = f"{n.name} {n.numbers.most_common(1)[0][0]}"
    return strong


def _majority(n: _Name) -> str:
    """The type most mentions give; a tie goes to "location" for a name the gazetteer knows,
    else to the first mention's type."""
    place = "location" if _is_place(n.name) else ""
    return max(n.votes, key=lambda t: (n.votes[t], t == place, t == n.first_type))


def _one_line(text: str) -> str:
    """A span across a line break joins two lines (a heading and the text below it): the
    longer part is the name."""
    if "\n" not in text:
        return text
    return max(text.split("\n"), key=lambda part: sum(ch.isalpha() for ch in part))


def _count(n: _Name, form: str, number: str) -> None:
    n.count += 1
    n.forms.add(form)
    if number:
        n.numbers[number] += 1
    else:
        n.bare += 1


def _person_parts(names: dict[str, _Name]) -> dict[str, str]:
    """Surname (casefolded) -> the one full name of a person it belongs to (headline lookups)."""
    found: dict[str, set[str]] = defaultdict(set)
    for n in names.values():
        tokens = person_tokens(n.name)
        if len(tokens) > 1 and n.votes.get("person"):
            found[tokens[-1].casefold()].add(n.name)
    return {k: next(iter(v)) for k, v in found.items() if len(v) == 1}


def _persons_named_like_organisations(names: dict[str, _Name]) -> None:
    """A two- or three-word "organisation" that reads like a personal name (capitalised words,
    no organisation word, no place), whose surname alone the document calls a person more often
    than it calls the full name an organisation, is that person: "Salem Bitar" once tagged ORG
    beside "Bitar" tagged PERSON three times."""
    for n in names.values():
        tokens = person_tokens(n.name)
        if n.type != "organization" or not 2 <= len(tokens) <= 3:
            continue
        if any(not is_capitalised(t) or t.lower().strip(".,") in ORG_WORDS for t in tokens):
            continue
        if is_acronym(tokens[0]):
            continue
        surname = names.get(tokens[-1].casefold())
        if surname is None or surname.type != "person":
            continue
        if surname.votes["person"] + n.votes["person"] > n.votes["organization"]:
            n.type = "person"


def _lone_words_inside_other_names(names: dict[str, _Name]) -> None:
    """A lone word the model called a person, which in this document only ever stands inside
    the names of places ("Rotterdam" beside "Port of Rotterdam"): it is most likely a place,
    not a person (no full name of a person contains it). Not so for organisations: a person's
    surname never joins an organisation ("Sachs" beside "Goldman Sachs")."""
    for n in names.values():
        if n.type != "person" or " " in n.name:
            continue
        word = n.name.casefold()
        containing: Counter[str] = Counter()
        in_person = False
        for other in names.values():
            if " " in other.name and word in other.name.casefold().split():
                if other.type == "person":
                    in_person = True
                elif other.type == "location":
                    containing[other.type] += 1
        if containing and not in_person:
            n.type = containing.most_common(1)[0][0]


def _is_place(name: str) -> bool:
    return bool(places.candidates(name))


def _short_forms(names: dict[str, _Name]) -> dict[str, str]:
    """Name key -> the key of the fuller name it stands for in this document."""
    target: dict[str, str] = {}
    people = {k: n for k, n in names.items() if n.type == "person" and " " in n.name}
    mentioned = Counter({k: n.count for k, n in people.items()})
    by_part: dict[str, set[str]] = defaultdict(set)
    surnames: dict[str, set[str]] = defaultdict(set)
    for key, n in people.items():
        parts = [t.casefold() for t in person_tokens(n.name)]
        if len(parts) < 2:
            continue
        surnames[parts[-1]].add(key)
        for part in parts:
            if part not in PARTICLES:
                by_part[part].add(key)
        for i in range(1, len(parts) - 1):  # "bin Salman", "Lula da Silva"
            by_part[" ".join(parts[i:])].add(key)
    # A shorter full name inside a longer one: "Vladimir Putin" -> "Vladimir V. Putin".
    for key in people:
        for longer in people:
            if longer != key and _contains_name(longer, key):
                by_part[key].add(longer)
    for key, n in names.items():
        if key in by_part and n.type == "person":
            target[key] = _most_named(by_part[key], mentioned)
        elif (
            n.type != "person"
            and " " not in n.name
            and key in surnames
            and not _known_place(n.name)
            and not is_acronym(n.name)
        ):
            # The model's usual slip: the lone surname of a person the document names in full,
            # tagged as an organisation or a place ("Kushner", "Bayrou"). The reverse never
            # happens: a person's surname does not join an organisation's name.
            target[key] = _most_named(surnames[key], mentioned)
    # Organisations: acronyms and single words of one longer organisation's name.
    orgs = {k: n for k, n in names.items() if n.type == "organization" and " " in n.name}
    for key, n in names.items():
        if key in target or n.type != "organization" or key in orgs:
            continue
        if _is_place(n.name):
            continue  # "Munich" is never "Munich Re"
        matches = [k for k, o in orgs.items() if key in o.name.casefold().split()]
        if key.strip(".") in ORG_WORDS:
            matches = []
        if not matches and is_acronym(n.name):
            letters = n.name.replace(".", "").upper()
            matches = [k for k, o in orgs.items() if initials(o.name) == letters]
        if len(matches) == 1:
            target[key] = matches[0]
    # Chains ("Vladimir Putin" -> "Vladimir V. Putin") end at the fullest name.
    for key in list(target):
        seen = {key}
        while target[key] in target and target[key] not in seen:
            seen.add(target[key])
            target[key] = target[target[key]]
    return target


def _contains_name(longer: str, shorter: str) -> bool:
    """ "vladimir v. putin" contains "vladimir putin" and "v. putin"."""
    a, b = longer.split(" "), shorter.split(" ")
    if len(a) <= len(b):
        return False
    return a[-len(b) :] == b or (a[0] == b[0] and a[-1] == b[-1])


def _most_named(candidates: set[str], mentioned: Counter[str]) -> str:
    """Several people share the surname: the one named most often takes it."""
    return max(sorted(candidates), key=lambda c: mentioned[c])


def _merge(names: dict[str, _Name], target: dict[str, str]) -> list[_Name]:
    """Short forms folded into the names they stand for."""
    kept = {k: n for k, n in names.items() if k not in target}
    for key, full in target.items():
        short, into = names[key], kept[full]
        into.count += short.count
        into.forms |= short.forms | {short.name}
    for n in kept.values():
        bare = without_legal_suffix(n.name)
        if n.type == "organization" and bare != n.name and bare in n.forms:
            n.forms.add(n.name)
            n.name = bare
    return sorted(kept.values(), key=lambda n: n.first)


def _places(merged: list[_Name]) -> None:
    """Gazetteer names and country codes for places; organisations and people that are in fact
    places corrected; one-word unknown "places" that are demonyms made groups."""
    plain = {
        p.country
        for n in merged
        if n.type == "location"
        for p in [places.lookup(n.name)]
        if p and p.country and len({c.country for c in places.candidates(n.name)}) == 1
    }
    for n in merged:
        if n.type == "organization" and places.is_unmistakable(n.name):
            n.type = "location"
        elif n.type == "person" and " " not in n.name:
            if places.is_unmistakable(n.name) or _big_city(n.name):
                n.type = "location"
        elif n.type in ("person", "location") and _team_name(n.name):
            n.type = "organization"
        if n.type != "location":
            continue
        place = places.lookup(n.name, plain)
        if place is None:
            if " " not in n.name and re.search(r"(?:ian|ean|ese|ish|ic)$", n.name):
                n.type = "group"
            continue
        n.forms.add(n.name)
        n.name = place.name
        n.country = place.country


def _known_place(name: str) -> bool:
    """A country, capital, state, continent, region or city of 100,000 people or more."""
    return places.is_unmistakable(name) or _big_city(name)


def _team_name(name: str) -> bool:
    """A US state or a city of 500,000 people or more, then a plural: "Vancouver Canucks",
    "Detroit Red Wings" are teams ("Hassan Abbas" is not)."""
    words = name.split()
    if len(words) < 2 or not words[-1].endswith("s") or words[-1].endswith("ss"):
        return False
    for cut in range(len(words) - 1, 0, -1):
        head = " ".join(words[:cut])
        if any(
            p.kind == "state" or (p.kind in ("capital", "city") and p.population >= 500_000)
            for p in places.candidates(head)
        ):
            return all(is_capitalised(w) for w in words[cut:])
    return False


def _big_city(name: str) -> bool:
    return any(
        p.kind in ("city", "capital") and p.population >= 100_000 for p in places.candidates(name)
    )


def _merge_same(merged: list[_Name]) -> list[_Name]:
    """Names that came to one name (US, U.S., America -> United States) are one entity."""
    out: dict[tuple[str, str], _Name] = {}
    for n in merged:
        key = (n.name, n.type)
        if key in out:
            into = out[key]
            into.count += n.count
            into.forms |= n.forms
        else:
            out[key] = n
    return list(out.values())
