"""Replacing recognised PHI: type tags or keyed pseudonyms, dates, "90+" ages.

Date modes (``dates=``):

* ``"shift"``: every date of one person moves by one keyed offset (1-365 days either way),
  written in its original format; intervals within a person are kept.  Not Safe Harbor:
  the output still holds full (shifted) dates.
* ``"safe-harbor"``: every date is cut to its year (HIPAA 45 CFR 164.514(b)(2)(i)(C));
  years at or before ``reference_year - 90``, which may show an age over 89, become one
  category ("1935 or earlier"), and so do such birth years written alone ("born 1925",
  "1925年出生"); dates without a year become ``[DATE]``.
* ``"tag"``: every date becomes ``[DATE]``.

In every mode ages over 89 become ``90+`` (the single category "90 or older").
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable
from typing import Literal

from fedcare.deid import _crf
from fedcare.deid._common import Keyed, Mode, Result, Span, normalise
from fedcare.deid._dates import shift_date_text, year_date_text, year_label
from fedcare.deid._recognise import detect_language, find_phi
from fedcare.exceptions import ConfigError

__all__ = ["DATE_MODES", "QUASI_TYPES", "DateMode", "Replacer", "check_date_mode",
           "deidentify_text", "make_keyed", "person_key"]

#: Quasi-identifier types a release may keep (``keep=``, CLI ``--keep-org``): employers and
#: schools.  Every other type is always replaced.
QUASI_TYPES = ("ORG",)

DateMode = Literal["shift", "safe-harbor", "tag"]

#: The date modes, each in one line (the CLI's ``--help`` and docs/deid.md say the same).
DATE_MODES: dict[str, str] = {
    "shift": "every date of a person moves by one keyed offset (1-365 days), format kept; "
             "intervals kept; not Safe Harbor",
    "safe-harbor": "dates cut to the year (04/12/1961 -> 1961), years showing an age over "
                   "89 grouped ('1935 or earlier'); HIPAA Safe Harbor identifier removal",
    "tag": "every date becomes [DATE]",
}

#: Safe Harbor: a year this many years before the reference year or earlier may show an
#: age over 89, so it is grouped with all earlier years.
_AGE_YEARS = 90

# Safe Harbor: a year of birth written alone (no month), after or before a birth cue.
_BIRTH_YEAR_EN = re.compile(
    r"(?i)\b(?:born(?:\s+in)?|year\s+of\s+birth|birth\s*year|YOB|DOB|date\s+of\s+birth)"
    r"\s*[:#]?\s*(?P<y>(?:18|19|20)\d\d)(?![\d/.-]?\d)")
_BIRTH_YEAR_ZH = [
    re.compile(r"(?:出生于|生于|出生年份|出生年|出生日期)[:：]?\s*(?P<y>(?:18|19|20)\d\d)(?:\s*年)?"
               r"(?!\s*\d|\s*[-/.]\d)"),
    re.compile(r"(?<!\d)(?P<y>(?:18|19|20)\d\d)\s*年\s*(?=出生|生人|生[，,。；;\s]|生$)"),
]

#: Which PHI identifies the person whose dates are shifted, in order of preference.
_PERSON_TYPES = ("MRN", "ID", "SSN", "INSURANCE", "NAME")


def make_keyed(key: bytes | str | None, mode: Mode) -> tuple[Keyed, bool]:
    """A :class:`Keyed` for ``key``; without a key a random one (tag mode only).

    Returns the keyed helper and whether its key is ephemeral (random, this run only).
    """
    if mode not in ("tag", "pseudonym"):
        raise ConfigError(f"unknown mode {mode!r}; expected tag or pseudonym")
    if key is None:
        if mode == "pseudonym":
            raise ConfigError("pseudonym mode needs a key (--key-file or $FEDCARE_DEID_KEY)")
        return Keyed(secrets.token_bytes(32)), True
    raw = key.encode("utf-8") if isinstance(key, str) else key
    if len(raw) < 16:
        raise ConfigError("the de-identification key must be at least 16 bytes")
    return Keyed(raw), False


def person_key(phi_type: str, value: str) -> str:
    """The person identity that keys date offsets.

    Parameters
    ----------
    phi_type : str
        The identifier's type (``MRN``, ``ID``, ``SSN``, ``INSURANCE`` or ``NAME``).
    value : str
        Its value as written; it is normalised, so ``00482913`` and ``0048-2913`` agree.

    Returns
    -------
    str
        E.g. ``"MRN:00482913"``; pass it as ``person`` to :func:`deidentify_text`.
    """
    return f"{phi_type}:{normalise(phi_type, value)}"


def _infer_person(text: str, spans: list[Span]) -> str:
    for phi_type in _PERSON_TYPES:
        for span in spans:
            if span.type == phi_type:
                return person_key(phi_type, text[span.start:span.end])
    return ""


def check_date_mode(dates: str) -> None:
    """Raise :class:`ConfigError` unless ``dates`` is one of :data:`DATE_MODES`."""
    if dates not in DATE_MODES:
        raise ConfigError(f"unknown date mode {dates!r}; expected "
                          f"{', '.join(DATE_MODES)}")


class Replacer:
    """Turns PHI values into their replacements under one key, mode and date mode.

    Parameters
    ----------
    keyed : Keyed
        The key's pseudonyms and day offsets.
    mode : {"tag", "pseudonym"}
        How identifiers other than dates and ages are written.
    dates : {"shift", "safe-harbor", "tag"}
        The date mode (module docstring).
    day_first : bool
        Read ``NN/NN/YYYY`` day first (03/04/2021 = 3 April); default month first.
    reference_year : int, optional
        Safe Harbor: years at or before ``reference_year - 90`` are grouped; default the
        current year.
    keep : iterable of str
        Quasi-identifier types to leave in the text (only those of ``QUASI_TYPES``).
    statistical : bool, optional
        Run the CRF beside the rules (see :func:`fedcare.deid.find_phi`); by default when
        its model is installed.
    """

    def __init__(self, keyed: Keyed, mode: Mode = "tag", dates: DateMode = "shift",
                 day_first: bool = False, reference_year: int | None = None,
                 keep: Iterable[str] = (), statistical: bool | None = None) -> None:
        check_date_mode(dates)
        self.keep = frozenset(keep)
        if not self.keep <= set(QUASI_TYPES):
            raise ConfigError(f"only quasi-identifiers can be kept ({', '.join(QUASI_TYPES)}); "
                              f"not {', '.join(sorted(self.keep - set(QUASI_TYPES)))}")
        self.keyed, self.mode, self.dates = keyed, mode, dates
        self.day_first = day_first
        self.statistical = _crf.enabled() if statistical is None else statistical
        self.reference_year = reference_year if reference_year is not None else \
            dt.date.today().year

    @property
    def cutoff(self) -> int:
        """Safe Harbor: years at or before this one are grouped ("1935 or earlier")."""
        return self.reference_year - _AGE_YEARS

    def replace(self, phi_type: str, value: str, lang: str, person: str) -> str:
        """The replacement of one PHI value."""
        if phi_type == "DATE" and self.dates == "shift":
            shifted = shift_date_text(value, lang, self.keyed.day_offset(person),
                                      self.day_first)
            if shifted is not None:
                return shifted
        if phi_type == "DATE" and self.dates == "safe-harbor":
            year = year_date_text(value, lang, self.cutoff, self.day_first)
            return year if year is not None else "[DATE]"
        if phi_type == "AGE":
            return "90+"
        if self.mode == "pseudonym" and phi_type != "DATE":
            return self.keyed.pseudonym(phi_type, value)
        return f"[{phi_type}]"

    def text(self, text: str, lang: str = "auto", person: str | None = None) -> Result:
        """De-identify ``text`` (see :func:`deidentify_text`)."""
        if lang == "auto":
            lang = detect_language(text)
        spans = [s for s in find_phi(text, lang, statistical=self.statistical)
                 if s.type not in self.keep]
        if person is None:
            person = _infer_person(text, spans)
        replacements = {}
        if self.dates == "safe-harbor":
            replacements = self._old_birth_years(text, lang, spans)
            spans = sorted([*spans, *replacements])
        pieces, pos = [], 0
        for span in spans:
            pieces.append(text[pos:span.start])
            if span in replacements:
                pieces.append(replacements[span])
            else:
                pieces.append(self.replace(span.type, text[span.start:span.end], lang, person))
            pos = span.end
        pieces.append(text[pos:])
        return Result("".join(pieces), tuple(spans), lang)

    def _old_birth_years(self, text: str, lang: str, spans: list[Span]) -> dict[Span, str]:
        """Safe Harbor: birth years written alone that may show an age over 89."""
        found: dict[Span, str] = {}
        patterns = [*_BIRTH_YEAR_ZH, _BIRTH_YEAR_EN] if lang == "zh" else [_BIRTH_YEAR_EN]
        for pattern in patterns:
            for m in pattern.finditer(text):
                year = int(m.group("y"))
                if year > self.cutoff:
                    continue
                zh = "年" in text[m.start("y"):m.end()]
                end = text.index("年", m.end("y")) + 1 if zh else m.end("y")
                span = Span(m.start("y"), end, "DATE")
                if all(span.end <= s.start or span.start >= s.end
                       for s in [*spans, *found]):
                    found[span] = year_label(year, self.cutoff, zh=zh)
        return found


def deidentify_text(text: str, lang: str = "auto", mode: Mode = "tag",
                    key: bytes | str | None = None, person: str | None = None,
                    dates: DateMode = "shift", day_first: bool = False,
                    reference_year: int | None = None, keep: Iterable[str] = (),
                    statistical: bool | None = None) -> Result:
    """Replace the PHI in one free text (a note, a report, a table cell).

    Parameters
    ----------
    text : str
        The text.
    lang : {"auto", "en", "zh"}
        Its language (``auto``: by the share of Chinese characters).
    mode : {"tag", "pseudonym"}
        ``tag`` writes ``[NAME]``, ``[PHONE]``, ...; ``pseudonym`` writes a keyed HMAC-SHA256
        pseudonym such as ``[NAME-3fa2c19b0d4e]``, the same for the same value under the same
        key (needs ``key``).
    key : bytes or str, optional
        The secret key (at least 16 bytes).  Without one (tag mode only) a random key is
        drawn, so date shifts are consistent within this call only.
    person : str, optional
        Whose dates these are (e.g. ``"MRN:00482913"``, see :func:`person_key`); by
        default the first MRN, ID, SSN, insurance number or name found in the text.  All
        dates of one person move by the same keyed offset (1-365 days either way), so
        intervals are kept.
    dates : {"shift", "safe-harbor", "tag"}
        ``shift`` (default): move dates by the person's keyed offset, format kept (not Safe
        Harbor); ``safe-harbor``: dates cut to the year, years at or before
        ``reference_year - 90`` grouped ("1935 or earlier"), birth years written alone
        likewise, dates without a year ``[DATE]``; ``tag``: ``[DATE]``.
    day_first : bool
        Read ``NN/NN/YYYY`` day first (``04/12/1961`` = 4 December 1961).  Default month
        first (12 April 1961), day first only when the first number exceeds 12.  A shifted
        date is written in the order it was read.
    reference_year : int, optional
        Safe Harbor's reference for "age over 89"; default the current year.
    keep : iterable of str
        Quasi-identifier types to keep (``("ORG",)``: employers and schools stay); by
        default they are replaced too.
    statistical : bool, optional
        Also run the statistical recogniser (a CRF trained on independently written notes,
        :mod:`fedcare.deid._crf`) below the rules; by default when its model is installed
        (it ships with fedcare).  ``False``: the rules alone.

    Returns
    -------
    Result
        The new text, the PHI spans (positions in the original) and the language.
        Ages over 89 become ``90+`` (the category "90 or older") in every mode.

    Examples
    --------
    >>> deidentify_text("Seen by Dr. Smith, call (617) 555-0134.", lang="en").text
    'Seen by Dr. [NAME], call [PHONE].'
    >>> deidentify_text("DOB 04/12/1961, a 95-year-old.", lang="en", dates="safe-harbor").text
    'DOB 1961, a 90+-year-old.'
    """
    check_date_mode(dates)
    keyed, _ = make_keyed(key, mode)
    return Replacer(keyed, mode, dates, day_first, reference_year, keep,
                    statistical).text(text, lang, person)
