"""Entity names as a reader writes them: the cleaning rules and the word lists behind them.

Pure (no model). Names keep meaningful punctuation ("U.S.", "Apple Inc.", "Martin Luther King
Jr."), lose quotes, possessives and a leading "the"; people lose titles and role words
("President", "Defender", "Gen."; a royal title stays before a single name: "King Charles");
people, organisations and places lose a trailing score or number ("Crystal Palace 2"). A
"person" with a lower-case word in the middle ("gibt der Patient") is no name. All-capitals
lines (headlines) are found here; ``etl.entities`` decides what their mentions count for.
"""

from __future__ import annotations

import re

_QUOTES_AND_BRACKETS = "\"'“”‘’«»()[]{}"
_EDGE_PUNCT = _QUOTES_AND_BRACKETS + ".,;:!?–—-*•·/|"
_POSSESSIVE = re.compile(r"(?:['’]s|(?<=s)['’])$")
# Words whose full stop belongs to them: dotted initials (U.S., D.C.) and the usual
# abbreviations at the end of names.
_KEEP_FINAL_DOT = re.compile(
    r"(?:(?:^|[\s(])(?:[A-Za-z]\.){2,}|\b(?:Inc|Jr|Sr|Jnr|Snr|Co|Corp|Ltd|Bros|St|Mt|Ft|Pty|Cie|"
    r"Assn|Intl|Dept|Univ|Cos|Hldgs|Mfg)\.)$"
)
_TRAILING_NUMBER = re.compile(r"^(.*[^\W\d_].*?)\s+(\d{1,3}(?:\s*[-–:]\s*\d{1,3})?)$")
_NUMBER_KEEPERS = frozenset({"of", "no", "no.", "#", "number"})


def _words(text: str) -> list[str]:
    return text.split()


# Titles and role words before a person's name: honours, offices, ranks, jobs, positions.
_ROLE_WORDS = frozenset(
    _words("""
    mr mrs ms miss mx dr doctor prof professor sir dame lord lady madam rev reverend fr father
    rabbi imam cardinal archbishop bishop ayatollah mullah
    president vice prime premier chancellor minister secretary senator sen rep representative
    congressman congresswoman congressmember assemblyman assemblywoman councillor councilor
    councilman councilwoman alderman governor gov lt lieutenant mayor deputy judge justice
    magistrate attorney general gen solicitor prosecutor sheriff commissioner ambassador envoy
    speaker chairman chairwoman chair chairperson ceo cfo coo cto founder co-founder cofounder
    chief executive director head boss leader spokesman spokeswoman spokesperson
    colonel col major maj captain capt sergeant sgt corporal cpl private pvt admiral adm
    commander cmdr marshal brigadier officer detective det inspector insp constable
    superintendent supt agent
    coach manager defender midfielder striker forward goalkeeper keeper goalie winger fullback
    full-back centre-back center-back playmaker quarterback pitcher catcher outfielder
    infielder shortstop linebacker receiver guard centre batsman batter bowler wicketkeeper
    skipper jockey trainer driver rider cyclist sprinter runner swimmer boxer wrestler
    rookie veteran star teammate
    singer actor actress rapper author writer novelist poet journalist reporter columnist
    editor presenter host anchor analyst economist strategist lawyer scientist researcher
    candidate nominee challenger incumbent
    former ex late then acting interim incoming outgoing current new retired
    foreign home defence defense interior finance treasury health education energy economy
    economic trade environment agriculture transport transportation labor labour culture
    justice state federal national regional party opposition majority minority
    senior junior assistant associate managing executive general
    """)
)
# Royal and religious titles stay before a single name: "King Charles", "Pope Francis".
_ROYAL = frozenset(
    _words(
        "king queen prince princess pope emperor empress sultan sheikh shaikh emir duke duchess "
        "crown saint"
    )
)
_ROMAN = re.compile(r"^(?:I{1,3}|IV|VI{0,3}|IX|X{1,2}I{0,3})$")
_NAME_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "jnr", "snr", "ii", "iii", "iv"})
# Lower-case words that belong inside names: "bin Salman", "van Gogh", "al-Assad".
PARTICLES = frozenset(
    _words(
        "bin bint ibn al el ul van von der den de del della dei di da das dos du la le lo ter ten "
        "y e zu af av op"
    )
)
# ... and those a name may start with: "de Gaulle", "bin Laden", "al-Assad" (not "der Patient").
_LEADING_PARTICLES = frozenset(_words("bin bint ibn al el van von de di da du la le"))
# Words of organisations' names: a name with one of these is no personal name.
ORG_WORDS = frozenset(
    _words("""
    inc corp co ltd plc llc ag sa se nv gmbh group holdings bank banks fund capital partners
    company companies corporation association union league club fc cf united city council
    committee commission ministry department agency authority office bureau board institute
    university college school academy hospital foundation trust party movement front army
    force forces police court parliament congress senate assembly government airlines airways
    air motors energy oil gas power telecom media news times post press television radio
    network systems technologies technology labs services international global national
    federal state royal society church team racing
    """)
)
# One generic word is no organisation's name on its own ("Secretary of State" -> "State").
GENERIC_ORGS = frozenset(
    _words(
        "state party group company team club department ministry office board agency committee "
        "council government administration army navy police military court bank firm"
    )
)
# Legal suffixes: "Apple Inc." is "Apple" where the document also says "Apple".
_LEGAL_SUFFIX = re.compile(
    r",?\s+(?:Inc\.?|Corp\.?|Ltd\.?|L\.?L\.?C\.?|PLC|plc|AG|SA|S\.A\.|SE|NV|N\.V\.|GmbH|"
    r"Co\.(?:,?\s+Ltd\.?)?|LP|LLP|Pty\.?\s+Ltd\.?)$"
)
_STOP_INITIALS = frozenset({"of", "the", "and", "for", "de", "la", "du", "des", "&"})


def clean_name(text: str) -> str:
    """Names without quotes, possessives or a leading "the"; meaningful full stops kept.

    "“Putin’s" -> "Putin"; "the United Nations" -> "United Nations"; "U.S.’s" -> "U.S.";
    "Apple Inc." stays; "Jones." -> "Jones"."""
    name = " ".join(text.split()).lstrip(_EDGE_PUNCT)
    while True:
        before = name
        name = name.rstrip(_EDGE_PUNCT.replace(".", ""))
        name = _POSSESSIVE.sub("", name)
        if name.endswith(".") and not _KEEP_FINAL_DOT.search(name):
            name = name[:-1]
        if name == before:
            break
    if name[:4].lower() == "the " and len(name) > 4:
        name = name[4:]
    return name.strip()


def split_trailing_number(name: str) -> tuple[str, str]:
    """ "Crystal Palace 2" -> ("Crystal Palace", "2"); "Atletico Madrid 2-1" -> ("Atletico
    Madrid", "2-1"); "Group of 20" stays whole."""
    match = _TRAILING_NUMBER.match(name)
    if not match or match.group(1).split()[-1].lower() in _NUMBER_KEEPERS:
        return name, ""
    return match.group(1).rstrip(" ,;:–-"), match.group(2)


def person_name(name: str) -> str:
    """A person's name without titles or role words; "" when it is no personal name.

    "Defender Hassan Abbas" -> "Hassan Abbas"; "Gen. Mark Milley" -> "Mark Milley";
    "President Trump" -> "Trump"; "King Charles" stays; "gibt der Patient" -> ""."""
    tokens = name.split()
    stripped: list[str] = []
    while len(tokens) > 1 and _is_role(tokens[0]):
        stripped.append(tokens.pop(0))
    core = [t for t in tokens if not _ROMAN.match(t)]
    if stripped and len(core) == 1 and stripped[-1].lower().rstrip(".") in _ROYAL:
        tokens.insert(0, stripped[-1].capitalize())
    # A lower-case word that is no particle ("gibt der Patient") means this is no name.
    if not tokens or any(not is_capitalised(t) and not _particle(t) for t in tokens):
        return ""
    if not is_capitalised(tokens[0]) and tokens[0].lower() not in _LEADING_PARTICLES:
        return ""
    if not is_capitalised(tokens[-1]):
        return ""
    if any(ch.isdigit() for t in tokens for ch in t):
        return ""
    result = " ".join(tokens)
    return result if sum(ch.isalpha() for ch in result) >= 2 else ""


def _is_role(token: str) -> bool:
    word = token.lower().rstrip(".,").replace("’", "'")
    word = word.removeprefix("ex-").removeprefix("then-").removeprefix("vice-")
    return word in _ROLE_WORDS or word in _ROYAL or word.removesuffix("'s") in _ROLE_WORDS


def is_capitalised(token: str) -> bool:
    first = next((ch for ch in token if ch.isalpha()), "")
    return bool(first) and first.isupper()


def _particle(token: str) -> bool:
    word = token.lower()
    return word in PARTICLES or word.split("-", 1)[0] in PARTICLES or word.startswith("d'")


def is_all_caps(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return len(letters) >= 2 and all(ch.isupper() for ch in letters)


def is_acronym(name: str) -> bool:
    """ "ECB", "U.S.", "AT&T": one word of two to six capitals."""
    return (
        " " not in name
        and 2 <= len(name.replace(".", "").replace("&", "")) <= 6
        and (is_all_caps(name))
    )


def shouted_lines(text: str) -> list[tuple[int, int]]:
    """The (start, end) of every all-capitals line of a text: headlines, kickers, labels.

    A line is shouted when it has at least four letters and nine in ten of its cased letters
    are capitals."""
    spans = []
    start = 0
    for line in text.split("\n"):
        cased = [ch for ch in line if ch.isalpha() and ch.lower() != ch.upper()]
        if len(cased) >= 4 and sum(ch.isupper() for ch in cased) >= 0.9 * len(cased):
            spans.append((start, start + len(line)))
        start += len(line) + 1
    return spans


def person_tokens(name: str) -> list[str]:
    """The words of a person's name without a suffix ("Jr.", "III")."""
    return [t for t in name.split() if t.lower() not in _NAME_SUFFIXES]


def initials(name: str) -> str:
    """ "European Central Bank" -> "ECB" (small words such as "of" and "the" skipped)."""
    return "".join(w[0] for w in name.split() if w.lower() not in _STOP_INITIALS).upper()


def without_legal_suffix(name: str) -> str:
    """ "Apple Inc." -> "Apple"; "Siemens AG" -> "Siemens"; a name without one stays."""
    return _LEGAL_SUFFIX.sub("", name)
