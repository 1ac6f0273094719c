"""Name lists of many locales (Faker's person providers, MIT licence), loaded on first use.

Faker ships given names and surnames for ~80 locales; the Latin-script ones (English,
Spanish, Portuguese, French, German, Italian, Polish, Dutch, Nordic, Slavic, Turkish,
Vietnamese, Indonesian, African and Indian romanisations, ...) give ~17,000 given names and
~16,000 surnames, lower case.  Words that are also common English words (Faker's own
English word list, the function words below, fedcare's ``EN_NOT_NAMES`` and
``AMBIGUOUS_EN_NAMES``) are kept apart: they count as a name only after a cue ("her
daughter Hope", "Dr. Brown").

Without Faker installed the recognisers fall back to fedcare's own lists.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re

from fedcare.deid import _lexicon as L

__all__ = ["COMMON_EN", "all_names", "given_names", "surnames"]

#: Function words and frequent note words that are never taken as a name without a cue.
COMMON_EN = L.words("""
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its
itself just me more most my myself no nor not now of off on once only or other our ours out
over own same she should so some such than that the their theirs them then there these they
this those through to too under until up very was we were what when where which while who
whom why will with would you your yours yourself also well still yet ok okay pt pts today
tonight tomorrow yesterday morning evening night week weeks month months year years day days
said says say told tell asked ask called call calls come came went go goes going gone get
got seen see saw feel feels felt doing done make made take took given give gave back home
left right new old good bad better worse best worst much many little less least more most
patient family doctor nurse mom dad son daughter wife husband sister brother friend
""") | L.EN_NOT_NAMES | L.AMBIGUOUS_EN_NAMES

_WORD = re.compile(r"[a-zà-öø-ÿ][a-zà-öø-ÿ'’-]*[a-zà-öø-ÿ]")


@functools.cache
def _faker_lists() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(given names, surnames, common English words) from Faker; empty without it."""
    try:
        import faker.providers.person as person
        from faker.providers.lorem.en_US import Provider as Lorem
    except ImportError:  # pragma: no cover - faker is a dependency
        return frozenset(), frozenset(), frozenset()
    given: set[str] = set()
    family: set[str] = set()
    for module in pkgutil.iter_modules(person.__path__):
        provider = getattr(importlib.import_module(f"{person.__name__}.{module.name}"),
                           "Provider", None)
        for attr in dir(provider):
            into = given if attr.startswith("first_name") else \
                family if attr.startswith("last_name") else None
            value = getattr(provider, attr, None)
            if into is None or not isinstance(value, (tuple, list, dict, set, frozenset)):
                continue
            for name in value:
                if isinstance(name, str):
                    for part in name.lower().split():
                        if _WORD.fullmatch(part) and len(part) >= 2:
                            into.add(part)
    return frozenset(given), frozenset(family), frozenset(w.lower() for w in Lorem.word_list)


@functools.cache
def common_words() -> frozenset[str]:
    """Common English words: never a name without a cue."""
    return COMMON_EN | _faker_lists()[2]


@functools.cache
def given_names() -> frozenset[str]:
    """Given names of every locale (lower case), common words included."""
    return _faker_lists()[0] | L.EN_FIRST_NAMES


@functools.cache
def surnames() -> frozenset[str]:
    """Surnames of every locale (lower case), common words included."""
    return _faker_lists()[1] | L.EN_SURNAMES


@functools.cache
def all_names() -> frozenset[str]:
    """Given names and surnames together."""
    return given_names() | surnames()
