"""Shared pieces: PHI types, spans, keys, keyed pseudonyms and date offsets."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from fedcare.exceptions import ConfigError

__all__ = [
    "KEY_ENV",
    "PHI_TYPES",
    "Keyed",
    "Mode",
    "Result",
    "Span",
    "cn_id_checksum",
    "is_valid_cn_id",
    "load_key",
    "normalise",
]

Mode = Literal["tag", "pseudonym"]

#: Environment variable holding the de-identification key (when no --key-file).
KEY_ENV = "FEDCARE_DEID_KEY"

#: The PHI types the recognisers tag; HIPAA Safe Harbor's 18 identifiers map onto these
#: (fax numbers are PHONE; biometrics and photographs do not occur in text).
PHI_TYPES: tuple[str, ...] = (
    "NAME", "ADDRESS", "DATE", "AGE", "PHONE", "EMAIL", "URL", "IP", "SSN", "ID", "MRN",
    "INSURANCE", "ACCOUNT", "LICENSE", "VEHICLE", "DEVICE", "ORG",
)

_MIN_KEY_BYTES = 16


@dataclass(frozen=True, order=True)
class Span:
    """One PHI occurrence: ``text[start:end]`` of the original text is of type ``type``."""

    start: int
    end: int
    type: str

    def __len__(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Result:
    """A de-identified text and where the PHI was in the original.

    Attributes
    ----------
    text : str
        The text with every span replaced (tag, pseudonym, shifted date, year or "90+").
    spans : tuple of Span
        Positions in the *original* text, sorted, non-overlapping.
    lang : str
        The language the text was processed as (``"en"`` or ``"zh"``).
    """

    text: str
    spans: tuple[Span, ...]
    lang: str
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.counts:
            object.__setattr__(self, "counts", dict(Counter(s.type for s in self.spans)))

    @property
    def replaced_chars(self) -> int:
        """How many characters of the original text were replaced."""
        return sum(s.end - s.start for s in self.spans)


def load_key(key_file: str | Path | None = None, *, required: bool = False) -> bytes | None:
    """The de-identification key from ``key_file``, else from ``$FEDCARE_DEID_KEY``.

    Parameters
    ----------
    key_file : path, optional
        A file whose content (surrounding whitespace stripped) is the key.
    required : bool
        Raise :class:`ConfigError` when neither gives a key (pseudonym mode).

    Returns
    -------
    bytes or None
        The key, or None when there is none and it is not required.

    Raises
    ------
    ConfigError
        The key file is missing, unreadable or empty, the key is shorter than 16 bytes,
        or no key is given while ``required``.
    """
    if key_file is not None:
        path = Path(key_file)
        try:
            key = path.read_bytes().strip()
        except OSError as exc:
            hint = ("; make one (keep it secret, the same key gives the same pseudonyms): "
                    "python -c \"import secrets; print(secrets.token_hex(32))\" > "
                    f"{path}") if isinstance(exc, FileNotFoundError) else ""
            raise ConfigError(f"key file {path} cannot be read ({type(exc).__name__})"
                              + hint) from None
        source = f"key file {path}"
    else:
        env = os.environ.get(KEY_ENV)
        if env is None:
            if required:
                raise ConfigError(f"pseudonym mode needs a key: pass --key-file or set {KEY_ENV}")
            return None
        key = env.strip().encode("utf-8")
        source = f"${KEY_ENV}"
    if len(key) < _MIN_KEY_BYTES:
        raise ConfigError(f"{source}: the key must be at least {_MIN_KEY_BYTES} bytes")
    return key


_NON_ALNUM = re.compile(r"[\W_]+", re.UNICODE)


def normalise(phi_type: str, value: str) -> str:
    """A canonical form of ``value`` so that surface variants share one pseudonym.

    Names: case-folded, punctuation dropped, "Last, First" turned round; numbers and
    codes: letters and digits only, upper case; phones: digits without a leading country
    code (1 or 86).
    """
    value = unicodedata.normalize("NFKC", value).strip()
    if phi_type == "NAME":
        if value.count(",") == 1:
            last, first = value.split(",")
            value = f"{first} {last}"
        return " ".join(_NON_ALNUM.sub(" ", value).casefold().split())
    if phi_type == "PHONE":
        main = re.split(r"(?i)ext|x|转|分机", value)[0].strip()
        prefix = re.match(r"(?:\+|00)(?:1|86)\D*|1[\s.-]+", main)
        if prefix:
            main = main[prefix.end():]
        return re.sub(r"\D", "", main)
    if phi_type in {"EMAIL", "URL", "IP", "ADDRESS"}:
        return " ".join(value.casefold().split())
    return _NON_ALNUM.sub("", value).upper()


class Keyed:
    """Keyed (HMAC-SHA256) pseudonyms, per-person day offsets and DICOM UIDs."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def digest(self, *parts: str) -> bytes:
        """HMAC-SHA256 of the parts, separated so that ("ab", "c") differs from ("a", "bc")."""
        message = "\x1f".join(parts).encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def pseudonym(self, phi_type: str, value: str) -> str:
        """``[TYPE-xxxxxxxxxxxx]``: 48 bits of HMAC over the normalised value."""
        digest = self.digest("pseudonym", phi_type, normalise(phi_type, value))
        return f"[{phi_type}-{digest.hex()[:12]}]"

    def day_offset(self, person: str) -> int:
        """A day shift in [-365, -1] or [1, 365], fixed for one person under one key."""
        raw = int.from_bytes(self.digest("date-offset", person)[:8], "big")
        magnitude = raw % 365 + 1
        return magnitude if (raw >> 32) & 1 else -magnitude

    def uid(self, uid: str) -> str:
        """A DICOM UID (``2.25.<int>``) derived from the keyed hash of ``uid``."""
        value = int.from_bytes(self.digest("dicom-uid", uid.strip())[:16], "big")
        return f"2.25.{value}"


_CN_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_ID_CODES = "10X98765432"


def cn_id_checksum(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of a Chinese resident ID.

    Parameters
    ----------
    first17 : str
        The first 17 digits.

    Returns
    -------
    str
        ``"0"``-``"9"`` or ``"X"``.
    """
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("expected 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, _CN_ID_WEIGHTS, strict=True))
    return _CN_ID_CODES[total % 11]


def is_valid_cn_id(value: str) -> bool:
    """Whether ``value`` is a well-formed Chinese resident identity number (GB 11643).

    Parameters
    ----------
    value : str
        18 characters: 17 digits and a check character (digit or X).

    Returns
    -------
    bool
        True when the region digit is 1-8, digits 7-14 are a real birth date (1900-2100)
        and the last character is the ISO 7064 MOD 11-2 check of the first 17.
    """
    import datetime as _dt

    value = value.strip().upper()
    if not re.fullmatch(r"[1-8]\d{16}[\dX]", value):
        return False
    try:
        born = _dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if not 1900 <= born.year <= 2100:
        return False
    return cn_id_checksum(value[:17]) == value[17]


def fast_start(pattern: re.Pattern[str], first: str = "A-Za-z") -> re.Pattern[str]:
    """``pattern`` with a look-ahead for the character class ``first`` that its matches
    must start with: the same matches, about twice as fast for a pattern that opens with a
    look-behind and a long alternation (other positions are skipped at once)."""
    return re.compile(f"(?=[{first}])" + pattern.pattern, pattern.flags)
