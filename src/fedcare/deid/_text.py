"""Replacing recognised PHI: type tags or keyed pseudonyms, shifted dates, "90+" ages."""

from __future__ import annotations

import secrets
from typing import Literal

from fedcare.deid._common import Keyed, Mode, Result, Span, normalise
from fedcare.deid._dates import shift_date_text
from fedcare.deid._recognise import detect_language, find_phi
from fedcare.exceptions import ConfigError

__all__ = ["DateMode", "Replacer", "deidentify_text", "make_keyed", "person_key"]

DateMode = Literal["shift", "tag"]

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


class Replacer:
    """Turns PHI values into their replacements under one key, mode and date policy."""

    def __init__(self, keyed: Keyed, mode: Mode = "tag", dates: DateMode = "shift") -> None:
        if dates not in ("shift", "tag"):
            raise ConfigError(f"unknown date policy {dates!r}; expected shift or tag")
        self.keyed, self.mode, self.dates = keyed, mode, dates

    def replace(self, phi_type: str, value: str, lang: str, person: str) -> str:
        """The replacement of one PHI value."""
        if phi_type == "DATE" and self.dates == "shift":
            shifted = shift_date_text(value, lang, self.keyed.day_offset(person))
            if shifted is not None:
                return shifted
        if phi_type == "AGE":
            return "90+"
        if self.mode == "pseudonym" and phi_type != "DATE":
            return self.keyed.pseudonym(phi_type, value)
        return f"[{phi_type}]"

    def text(self, text: str, lang: str = "auto", person: str | None = None) -> Result:
        """De-identify ``text`` (see :func:`deidentify_text`)."""
        if lang == "auto":
            lang = detect_language(text)
        spans = find_phi(text, lang)
        if person is None:
            person = _infer_person(text, spans)
        pieces, pos = [], 0
        for span in spans:
            pieces.append(text[pos:span.start])
            pieces.append(self.replace(span.type, text[span.start:span.end], lang, person))
            pos = span.end
        pieces.append(text[pos:])
        return Result("".join(pieces), tuple(spans), lang)


def deidentify_text(text: str, lang: str = "auto", mode: Mode = "tag",
                    key: bytes | str | None = None, person: str | None = None,
                    dates: DateMode = "shift") -> Result:
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
    dates : {"shift", "tag"}
        Shift dates (default) or replace them with ``[DATE]``.

    Returns
    -------
    Result
        The new text, the PHI spans (positions in the original) and the language.
        Ages over 89 become ``90+``.

    Examples
    --------
    >>> deidentify_text("Seen by Dr. Smith, call (617) 555-0134.", lang="en").text
    'Seen by Dr. [NAME], call [PHONE].'
    """
    keyed, _ = make_keyed(key, mode)
    return Replacer(keyed, mode, dates).text(text, lang, person)
