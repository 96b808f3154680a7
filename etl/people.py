"""People across documents: one facet value per person in the whole index.

Pure (no model, no database): the functions take the full names the index already knows with
the number of documents naming each (``etl.ledger.known`` keeps them, ``etl.canon`` asks), so
that a facet counts the documents about someone, not the spellings of their name.

The rules:

1. **Spellings**: full names (two words or more) with the same first word, the same last word
   and the same suffix ("Jr.") are spellings of one name: "Vladimir Putin", "Vladimir V. Putin".
   Their canonical spelling is the one most documents use, then the longest, then the first
   in alphabetical order; the document's own spelling stays an alias. ("Donald Trump Jr." is
   not "Donald Trump"; "Bill Clinton" is not "Hillary Clinton".)
2. **Short forms**: a person a document names only by one word ("Putin", also "Mr Putin":
   ``etl.entity_names`` takes the title off) is the person the index knows in full when
   exactly one known name (after rule 1) has that word as its surname: the document's entity
   takes the canonical full name and keeps the short form as an alias. Two different people
   with that surname ("Boris Johnson", "Lyndon Johnson") leave it as written.

Within one document ``etl.entities`` already joins "Putin" to "Vladimir Putin"; these rules
only reach across documents. Only people are matched, with people (types agree).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from etl.entity_names import person_tokens
from etl.record import Entity

PERSON = "person"


def surname_key(name: str) -> str:
    """The word a short form of ``name`` is: its last word without a suffix, case folded."""
    tokens = person_tokens(name)
    return tokens[-1].casefold().strip(".,") if tokens else ""


def is_full_name(name: str) -> bool:
    return len(person_tokens(name)) >= 2


def spelling_key(name: str) -> tuple[str, str, str]:
    """Full names with the same key are spellings of one name: (first word, surname, suffix)."""
    tokens = person_tokens(name)
    suffix = " ".join(t.casefold().strip(".,") for t in name.split()[len(tokens) :])
    if tokens != name.split()[: len(tokens)]:  # a suffix in the middle: keep every word
        suffix = name.casefold()
    return (tokens[0].casefold().strip(".,") if tokens else "", surname_key(name), suffix)


def canonical_spellings(documents: Mapping[str, int]) -> dict[str, str]:
    """Full name -> its canonical spelling (rule 1), for every name of ``documents`` (full
    name -> documents naming it)."""
    groups: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for name in documents:
        if is_full_name(name):
            groups[spelling_key(name)].append(name)
    canonical: dict[str, str] = {}
    for names in groups.values():
        best = min(names, key=lambda n: (-documents[n], -len(n), n))
        canonical.update(dict.fromkeys(names, best))
    return canonical


def short_form_targets(documents: Mapping[str, int]) -> dict[str, str]:
    """Surname key -> the canonical full name of the one person known by that surname (rule
    2); surnames of two or more people are left out."""
    canonical = canonical_spellings(documents)
    people: dict[str, set[str]] = defaultdict(set)
    for best in canonical.values():
        people[surname_key(best)].add(best)
    return {surname: next(iter(names)) for surname, names in people.items() if len(names) == 1}


def full_names(entities: Iterable[Entity]) -> list[str]:
    """The people a document names in full, as the document spells them."""
    return [e.name for e in entities if e.type == PERSON and is_full_name(e.name)]


def wanted_surnames(entities: Iterable[Entity]) -> set[str]:
    """The surnames to ask the index about for a document: of every person it names."""
    return {surname_key(e.name) for e in entities if e.type == PERSON} - {""}


def canonical_people(entities: Sequence[Entity], documents: Mapping[str, int]) -> list[Entity]:
    """A document's entities with its people under their names across the index: spellings
    canonical (rule 1), short forms the one person known by that surname (rule 2). The other
    forms are aliases; an entity that comes to the name of another of the document is one with
    it. ``documents``: full name -> documents naming it, this document included."""
    canonical = canonical_spellings(documents)
    targets = short_form_targets(documents)
    changed = False
    out: dict[tuple[str, str], Entity] = {}
    for e in entities:
        name = e.name
        if e.type == PERSON:
            if is_full_name(name):
                name = canonical.get(name, name)
            else:
                name = targets.get(surname_key(name), name)
        if name != e.name:
            changed = True
            aliases = sorted({*e.aliases, e.name} - {name})
            e = replace(e, name=name, aliases=aliases)
        key = (e.name, e.type)
        if key in out:
            into = out[key]
            aliases = sorted({*into.aliases, *e.aliases} - {into.name})
            out[key] = replace(into, count=into.count + e.count, aliases=aliases)
        else:
            out[key] = e
    if not changed:
        return list(entities)
    return sorted(out.values(), key=lambda e: (-e.count, e.type, e.name))
