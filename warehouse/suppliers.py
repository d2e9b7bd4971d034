"""Normalise payee names so spellings of one organisation meet; spot payees that publish."""

import re
import unicodedata

# Legal-form and filler words that do not tell two organisations apart.
_SUFFIXES = re.compile(
    r"\b(limited|ltd|plc|llp|lp|cic|cio|co|company|inc|the|and|of|for|group|holdings|uk)\b")
# Abbreviations publishers' finance systems use for ordinary words.
ABBREVIATED = {
    "dept": "department", "depts": "department", "assoc": "association", "assn": "association",
    "servs": "services", "srv": "services", "srvs": "services", "svcs": "services",
    "ins": "insurance", "intl": "international", "natl": "national", "govt": "government",
    "mgmt": "management", "mgt": "management", "univ": "university", "hosp": "hospital",
    "hlth": "health", "mntl": "mental", "sth": "south", "nth": "north", "nrth": "north",
    "cncl": "council", "coun": "council", "dist": "district", "metro": "metropolitan",
    "auth": "authority", "prfssnl": "professional", "ft": "foundation trust", "nhs": "",
}
CUT_SHORT = ("limited", "company", "holdings", "group")
# ... and these when at least two letters are left ('Civil Engineering Lt', 'Healthcare NH').
CUT_SHORT_2 = ("ltd", "nhs")
_TRADING_AS = re.compile(r"\b(t/a|ta|trading as)\b.*$")
_BRACKETS = re.compile(r"\([^)]*\)?")
_APOSTROPHES = re.compile(r"['’`´]")
_PUNCT = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")
_INITIALS = re.compile(r"\b(?:[a-z] ){1,}[a-z]\b")
_BRACKETED = re.compile(r"\(([^)]*)\)")
# Reference numbers publishers append: '[17340]', masked bank references '_****3201'.
_NOISE = re.compile(r"\[[^\]]*\]|_?\*{2,}\w*")
_INITIAL_SKIP = frozenset({"of", "for", "and", "the", "to", "in", "on"})


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()


def payee_key(name: str | None) -> str | None:
    """A comparison key: 'The Northmoor Leisure Trust Ltd (T/A Active Northmoor)' and
    'NORTHMOOR LEISURE TRUST LIMITED' both become 'northmoor leisure trust'; "Barnardo's"
    and 'BARNARDOS' meet, and so do 'A D T Fire' and 'ADT Fire'."""
    if not name:
        return None
    text = _ascii(_APOSTROPHES.sub("", _NOISE.sub(" ", name)))
    text = _TRADING_AS.sub("", _BRACKETS.sub(" ", text.replace("&", " and ")))
    text = _SPACES.sub(" ", _PUNCT.sub(" ", text)).strip()
    text = _INITIALS.sub(lambda m: m.group(0).replace(" ", ""), text)
    text = " ".join(ABBREVIATED.get(word, word) for word in text.split())
    text = _SUFFIXES.sub(" ", text)
    words = text.split()
    # A legal form cut short by a column width ('Biffa Waste Services Limi', '... Lt',
    # 'Premier Paper Grou') is still one.
    if len(words) > 2 and (any(full.startswith(words[-1]) for full in CUT_SHORT) or (
            len(words[-1]) >= 2 and any(full.startswith(words[-1]) for full in CUT_SHORT_2))):
        words = words[:-1]
    return " ".join(words) or None


def alias_keys(name: str | None) -> list[str]:
    """An acronym a name declares for itself, or the full name an acronym declares:
    'Department for Work & Pensions (DWP)' gives 'dwp', 'SCC (Specialist Computer Centres)'
    gives 'specialist computer centres'. A bracket that is not its acronym ('(Leeds)') is not
    an alias."""
    main = payee_key(name)
    if not name or not main:
        return []
    keys = []
    for inner in _BRACKETED.findall(name):
        other = payee_key(inner)
        if other and other != main and (_initials(main) == other or _initials(other) == main):
            keys.append(other)
    return list(dict.fromkeys(keys))


def leading_part(name: str | None) -> str | None:
    """What comes before a '-' qualifier: 'Gateshead Council - General Purchasing Wallet',
    'EXETER CITY COUNCIL-TRADE REFUSE', 'NPOWER DIRECT LTD-GAS BILLS ONLY'."""
    if not name or "-" not in name:
        return None
    leading = payee_key(name.split("-", 1)[0])
    # One word before a hyphen is more likely a double-barrelled name than a qualifier.
    return leading if leading and " " in leading else None


def _initials(key: str) -> str:
    words = [w for w in key.split() if w not in _INITIAL_SKIP]
    return "".join(w[0] for w in words) if len(words) > 1 else ""


def acronyms(name: str) -> list[str]:
    """The initials a body's name gives, with and without its small words: 'Department for
    Education' gives 'de' and 'dfe'; only those of three letters or more are kept."""
    words = [w for w in _SPACES.sub(" ", _PUNCT.sub(" ", _ascii(name.replace("&", " and "))))
             .split() if w not in ("the", "ltd", "limited", "plc")]
    found = {"".join(w[0] for w in words),
             "".join(w[0] for w in words if w not in _INITIAL_SKIP)}
    return sorted(a for a in found if len(a) >= 3 and len(words) > 2)
