"""The PHI recognisers, one module per kind; importing this package registers them all.

See :mod:`fedcare.deid.recognisers._base` for the registry. A new recogniser is a function
decorated with ``@recogniser(name, languages)`` in one of these modules (or a new module
imported here).
"""

from fedcare.deid.recognisers import (  # noqa: F401 - imported to register
    addresses,
    ages,
    contact,
    dates,
    identifiers,
    names_en,
    names_pinyin,
    names_zh,
    organisations,
)
from fedcare.deid.recognisers._base import PRIORITY, REGISTRY, Recogniser, recogniser

__all__ = ["PRIORITY", "REGISTRY", "Recogniser", "recogniser"]
