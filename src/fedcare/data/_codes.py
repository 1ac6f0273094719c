"""Matching codes: which targets (features, label) a coding, a text or an OMOP value makes."""

from __future__ import annotations

from fedcare.data._mapping import Mapping

__all__ = ["CodeMatcher"]


def _icd(code: str) -> str:
    return code.replace(".", "").upper()


class CodeMatcher:
    """Which targets (features, label) a coding, a text or an OMOP value makes.

    Exact codes are looked up in a dict; prefix patterns (``I25*``) are tried in turn;
    ICD-10 codes compare without dots and case (``I25.10`` = ``i2510``); text patterns
    compare case-insensitively with the whole text (``atorvastatin*``).  Every answer is
    cached, so repeated codes cost one dict lookup.
    """

    def __init__(self, mapping: Mapping) -> None:
        self._uri_to_system: dict[str, str] = {}
        for name, uris in mapping.system_uris().items():
            for uri in uris:
                self._uri_to_system[uri] = name
        # (domain, system) -> exact code -> targets ; (domain, system) -> [(prefix, target)]
        self._exact: dict[tuple[str, str], dict[str, list[str]]] = {}
        self._prefix: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._cache: dict[tuple[str, str, str], tuple[str, ...]] = {}
        self.codes_of: dict[str, list[str]] = {}
        for target in mapping.targets:
            described = []
            for system, codes in target.spec.codes.items():
                for code in codes:
                    text = str(code).strip()
                    described.append(f"{system} {text}")
                    key = (target.domain, system)
                    norm = self._norm(system, text.rstrip("*"))
                    if text.endswith("*"):
                        self._prefix.setdefault(key, []).append((norm, target.name))
                    else:
                        self._exact.setdefault(key, {}).setdefault(norm, []).append(target.name)
            self.codes_of[target.name] = described
        # answer feature -> (system, normalised code) -> level index; prefixes apart
        self._answers: dict[str, dict[tuple[str, str], int]] = {}
        self._answer_prefixes: dict[str, list[tuple[str, str, int]]] = {}
        for target in mapping.targets:
            for level, (name, systems) in enumerate((getattr(target.spec, "answers", None)
                                                     or {}).items()):
                del name
                for system, codes in systems.items():
                    for code in codes:
                        text = str(code).strip().lower() if isinstance(code, bool) \
                            else str(code).strip()
                        norm = self._norm(system, text.rstrip("*"))
                        if text.endswith("*"):
                            self._answer_prefixes.setdefault(target.name, []).append(
                                (system, norm, level))
                        else:
                            self._answers.setdefault(target.name, {})[(system, norm)] = level

    @staticmethod
    def _norm(system: str, code: str) -> str:
        if system == "icd10":
            return _icd(code)
        if system == "text":
            return code.casefold().strip()
        return code

    def system_name(self, uri: str | None) -> str | None:
        """The mapping's name for a FHIR system URI (None when unknown)."""
        return None if uri is None else self._uri_to_system.get(uri)

    def match(self, domain: str, system: str, code: str) -> tuple[str, ...]:
        """Targets of ``code`` in ``system`` (a mapping system name)."""
        key = (domain, system, code)
        found = self._cache.get(key)
        if found is not None:
            return found
        norm = self._norm(system, code)
        hits = list(self._exact.get((domain, system), {}).get(norm, []))
        for prefix, name in self._prefix.get((domain, system), []):
            if norm.startswith(prefix):
                hits.append(name)
        result = tuple(dict.fromkeys(hits))
        self._cache[key] = result
        return result

    def match_uri(self, domain: str, uri: str | None, code: str | None) -> tuple[str, ...]:
        """Targets of a FHIR coding (system URI and code)."""
        if code is None:
            return ()
        system = self.system_name(uri)
        return () if system is None else self.match(domain, system, code)

    def match_source_value(self, domain: str, value: str) -> tuple[str, ...]:
        """Targets of an OMOP ``*_source_value``: every non-OMOP system and text."""
        key = (domain, "\x00source", value)
        found = self._cache.get(key)
        if found is not None:
            return found
        hits: list[str] = []
        systems = {system for (dom, system) in [*self._exact, *self._prefix] if dom == domain}
        for system in sorted(systems - {"omop"}):
            hits.extend(self.match(domain, system, value))
        result = tuple(dict.fromkeys(hits))
        self._cache[key] = result
        return result

    def is_answer(self, target: str) -> bool:
        """Whether ``target`` is a coded-answer feature."""
        return target in self._answers or target in self._answer_prefixes

    def answer(self, target: str, system: str, code: str) -> int | None:
        """The level index of an answer (``system`` a mapping system name), or None."""
        norm = self._norm(system, code.strip())
        found = self._answers.get(target, {}).get((system, norm))
        if found is not None:
            return found
        for sys_, prefix, level in self._answer_prefixes.get(target, ()):
            if sys_ == system and norm.startswith(prefix):
                return level
        return None

    def answer_uri(self, target: str, uri: str | None, code: str | None) -> int | None:
        """The level index of a FHIR coding answer (system URI and code), or None."""
        system = self.system_name(uri)
        return None if system is None or code is None else self.answer(target, system, code)

    def answer_source_value(self, target: str, value: str) -> int | None:
        """The level index of an OMOP ``value_source_value`` (any non-OMOP system)."""
        systems = {s for s, _ in self._answers.get(target, {})} | {
            s for s, _, _ in self._answer_prefixes.get(target, ())}
        for system in sorted(systems - {"omop", "boolean"}):
            found = self.answer(target, system, value)
            if found is not None:
                return found
        return None

    def omop_ids(self, domain: str) -> set[int]:
        """Every OMOP concept id the mapping names for ``domain``."""
        return {int(c) for c in self._exact.get((domain, "omop"), {})}

    def source_patterns(self, domain: str) -> tuple[set[str], list[str]]:
        """Exact source values and prefixes (normalised) for an SQL pre-filter."""
        exact: set[str] = set()
        prefixes: list[str] = []
        for (dom, system), codes in self._exact.items():
            if dom == domain and system != "omop":
                exact.update(codes)
        for (dom, system), pairs in self._prefix.items():
            if dom == domain and system != "omop":
                prefixes.extend(prefix for prefix, _ in pairs)
        return exact, prefixes

    def has_system(self, domain: str, system: str) -> bool:
        """Whether any target of ``domain`` names codes of ``system``."""
        return (domain, system) in self._exact or (domain, system) in self._prefix
