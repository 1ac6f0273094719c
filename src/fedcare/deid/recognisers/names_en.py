"""English person names (titles, cues, name lists, propagation)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator

from fedcare.deid import _lexicon as L
from fedcare.deid import _names as N
from fedcare.deid._common import fast_start

from ._base import PRIORITY as _PRIORITY
from ._base import Cand as _Cand
from ._base import recogniser

# ---------------------------------------------------------------- English names

# Latin-1 and Latin Extended-A letters (Ł, Ś, Ž, ő, ć: Polish, Czech, Hungarian, Baltic,
# Turkish names); Extended-A alternates capital and small letters, so it is in both
_UP = "A-ZÀ-ÖØ-Þ\u0100-\u017f"
_LO = "a-zß-öø-ÿ\u0100-\u017f"
_CAPW = (rf"(?:(?:Mc|Mac|O['’]|D['’])?[{_UP}][{_LO}]+(?:(?<=Di|De|Da|Du|La|Le|Lo)[{_UP}][{_LO}]+)?"
         rf"(?:[-'’][{_UP}]?[{_LO}]+)*)")
_UPPW = rf"(?:(?:MC|MAC|Mc|Mac|O'|D')?[{_UP}]{{2,}}(?:[-'][{_UP}]+)*)"
_INIT = r"(?:[A-Z]\.?)"
_PARTICLE = (r"(?:(?:van|von|de|da|del|der|di|du|la|le|bin|ibn|al|el|Ó|Ní|Nic|Uí|Mhic|Te|ap) "
             r"(?:la |der |den |los )?)")
_NICK = r"(?:[\"“'‘(][A-Z][a-z]+[\"”'’)])"
_FULL_CAP = (rf"(?:{_INIT} )?{_PARTICLE}?{_CAPW}(?: (?:{_INIT} |{_NICK} )?{_PARTICLE}?"
             rf"{_CAPW}){{0,3}}")
_NICK_UP = r"(?:[\"“'‘(][A-Z]{2,}[\"”'’)])"
_PARTICLE_UP = (r"(?:(?:VAN|VON|DE|DA|DEL|DER|DI|DU|LA|LE|BIN|IBN|AL|EL|NÍ|NIC|MAC) "
                r"(?:LA |DER |DEN |LOS )?)")
_FULL_UP = (rf"(?:{_INIT} )?{_UPPW}(?: (?:{_INIT} |{_NICK_UP} |{_NICK} )?{_PARTICLE_UP}?"
            rf"{_UPPW}){{0,3}}")
_FULL = rf"(?:{_FULL_CAP}|{_FULL_UP})"
_LASTFIRST = (rf"(?:{_CAPW}(?:[- ]{_CAPW})?|{_UPPW}),[ ]?(?:{_CAPW}|{_UPPW})"
              rf"(?: {_INIT}(?![A-Za-z]))?")
_TITLE = re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Mister|Doctor|Sr|Sra|Srta|Officer|Deputy|"
                    rf"Sergeant|Sgt|Detective|Det|Trooper|Lt|Lieutenant|Capt|Captain|Chief|"
                    rf"Judge|Attorney|Fr|Father|Sister|Pastor|Rev|Reverend|Rabbi|Imam|Coach|"
                    rf"Nurse|Madam|Mme|Mlle|Herr|Frau|Señor|Señora|Dame|Sir|Lady|Lord|Md|Mohd|"
                    rf"Ma|Smt|Hagga|Hajja|Hajjah|Haji|Hajji|Sheikh|Shaikh|Ustaz|Datuk|"
                    rf"Dato|Atty|Ate|Kuya|Engr|Sis|Shri|Kum|Shrimati)\.?\s+"
                    rf"(?P<n>{_FULL_CAP}|{_INIT}\s*{_CAPW}|{_FULL_UP})")
_COLON_LABELS = (r"patient(?:'s)?\s+name|patient|pt\s+name|pt|name|attending(?:\s+physician)?|"
                 r"resident|fellow|intern|pcp|primary\s+care(?:\s+(?:physician|provider))?|"
                 r"provider|physician|surgeon|nurse|rn|np|pa|referring(?:\s+(?:physician|"
                 r"provider|doctor))?|consultant|dictated\s+by|signed\s+by|electronically\s+"
                 r"signed\s+by|reviewed\s+by|transcribed\s+by|cosigned\s+by|author|cc|contact|"
                 r"emergency\s+contact|next\s+of\s+kin|nok|guardian|caregiver|interpreter|"
                 r"spouse|wife|husband|son|daughter|mother|father|brother|sister|"
                 r"health\s+care\s+proxy|hcp|poa|witness|informant|source|sign(?:ed|ature)|"
                 r"re|regarding|subject|from|to|client|resident\s+name|member|insured|"
                 r"subscriber|caller|visitor|employee|student|parent|emergency\s+contact|"
                 r"scribe|typist|chaperone|translator|pilgrim|mahram|seafarer|w/o|s/o|d/o|c/o|"
                 r"nickname|alias|a\.?k\.?a\.?|known\s+as|coordinator(?:\s+for\s+\w+)?|"
                 r"reported\s+by|flight\s+medic|pilot|health\s+extension\s+worker|"
                 r"focal\s+person|employer\s+rep(?:resentative)?|deceased|the\s+deceased|"
                 r"secretary|medical\s+secretary|receptionist")
_COLON = re.compile(rf"(?<![A-Za-z])(?i:{_COLON_LABELS})\s*[:–-]\s*(?:(?:Mr|Mrs|Ms|Dr)\.?\s+)?"
                    rf"(?P<n>{_LASTFIRST}|{_FULL})")
# cues after which one capitalised word is a person even when no list knows it
_KIN = (r"wife|husband|spouse|son|daughter|mother|father|mom|dad|brother|sister|niece|nephew|"
        r"grandson|granddaughter|grandmother|grandfather|grandchild|aunt|uncle|cousin|"
        r"partner|fianc[eé]e?|friend|neighbou?r|caregiver|guardian|roommate|stepson|"
        r"stepdaughter|daughter-in-law|son-in-law|call|contact|paged|notified|informed|"
        r"contacted|tell|ask|interpreter|chaplain|social\s+worker|case\s+manager|educator|"
        r"baby\s+of|b/o|"
        r"dietitian|dietician|nutritionist|therapist|pharmacist|aide|tech|technician|CNA|"
        r"coordinator|navigator|scribe|coach|counsel(?:l)?or|midwife|doula|paramedic|"
        r"supervisor|manager|boss|teacher|landlord|pastor|priest|rabbi|imam|sitter|nanny|"
        r"babysitter|housekeeper|volunteer|maiden\s+name|n[ée]e|aka|a\.k\.a\.|"
        r"also\s+known\s+as|known\s+as|formerly|alias|goes\s+by|nickname|named|called|"
        r"prefers|likes\s+to\s+be\s+called|surrogate|proxy|veteran|aunty|auntie|nan|nana|gran|granny|"
        r"grandma|grandpa|grandad|mum|mummy|stepmother|stepfather|carer|physio|ASHA|ANM|"
        r"girlfriend|boyfriend|co-?worker|colleague|mother-in-law|father-in-law|"
        r"sister-in-law|brother-in-law|mama|papa|tito|tita|lola|lolo|flatmate|housemate|"
        r"buddy|mate|rep|representative|ask\s+for|asked\s+for|speak\s+to|talk\s+to|"
        r"Cst\.?|Constable|"
        r"coordinator|secretary|receptionist|assistant|godmother|godfather|fianc[eé]")
# a role written before a given name alone ("HF nurse Tonya", "case mgr Deb"): the word
# after it must be a listed given name ("nurse Practitioner" is not)
_ROLE_CUE = re.compile(rf"(?<![A-Za-z])(?i:nurse|case\s+mgr|mgr|ward\s+clerk|clerk|porter|"
                       rf"hca|key\s?worker|support\s+worker|care\s+worker|liaison)[ \t]+"
                       rf"(?P<n>{_CAPW})(?![{_UP}{_LO}])")
_KIN_CUE = re.compile(rf"(?<![A-Za-z])(?i:{_KIN})\s*[,(]?\s*(?:(?:Mr|Mrs|Ms|Dr)\.?\s+)?"
                      rf"(?P<n>{_LASTFIRST}|{_FULL_CAP})")
_KIN_AFTER = re.compile(rf"(?<![A-Za-z'’-])(?P<n>{_LASTFIRST}|{_FULL})\s*"
                        rf"(?:\((?:SW|RN|MD|NP|PA|LPN|CNA|PT|OT|RT|RD|SLP|MSW|LCSW|EMT|DO)\)|"
                        rf"\((?i:{_KIN}|resident|attending|volunteer|chaplain|aide|"
                        r"fellow|intern|pcp|nurse|rn|np|pa|md|cardiology|surgery)\)|"
                        r"[(,]\s*(?:DOB|D\.O\.B\.|born|MRN|age)\b|"
                        r",\s*\d{1,3}\s*(?:y/?o|yo|y\.o\.|M|F|m|f|male|female)\b)")
_SEQ_UP = re.compile(rf"(?<![A-Za-z'’-]){_UPPW}(?: {_INIT}\.?)?(?: {_UPPW}){{1,2}}(?![A-Za-z])")
_NURSE = re.compile(rf"\b(?:Nurse|RN|NP|LVN|LPN|CNA|Sr\.?|Mdm|Puan|Encik|Cik|N/O|S/N|SN|CHW|HEW|"
                    rf"Sister|Brother|Father|Rev\.?|Pastor|Chaplain|NIC|HCA|PHN|"
                    rf"CNS|ANP|CNM|RGN|RMN|SHO|SpR|FY[12]|OT|PT|SLT|HV|DN|[Cc]arer|"
                    rf"[Rr]egistrar|[Ll]ocum|[Hh]ealth\s+visitor|[Dd]istrict\s+nurse|"
                    rf"[Pp]hysio(?:therapist)?)\s+(?P<n>{_FULL_CAP}|{_INIT}\s*{_CAPW})")
#: The words that close a letter or message before the writer's name
_SIGN_OFF_WORDS = (r"sincerely|regards|best\s+wishes|thanks(?:\s+so\s+much|\s+again)?|"
                   r"many\s+thanks|"
                   r"thank\s+you(?:\s+so\s+much)?|cheers|respectfully|"
                   r"yours\s+(?:sincerely|faithfully|truly)|warmly")
# a sign-off: the name on the line after "Sincerely," / "Kind regards,"
_SIGN_OFF = re.compile(rf"(?i:{_SIGN_OFF_WORDS}|best),?[ \t]*\n"
                       rf"(?:[ \t]*\n)?"
                       rf"[ \t]*(?:(?:Dr|Mr|Mrs|Ms|Prof)\.?\s+)?"
                       rf"(?P<n>{_FULL_CAP}|{_INIT}\s*{_CAPW}|{_FULL_UP})")
# one capitalised word alone on its line after a sign-off (a blank line between them): the
# writer's given name ("Kind regards\n\nNomvula"), also when the word is a common one
# ("Yours sincerely\n\nRose")
_SIGN_OFF_ALONE = re.compile(rf"(?i:{_SIGN_OFF_WORDS}|love),?[ \t]*\n(?:[ \t]*\n)?[ \t]*"
                             r"(?P<n>[A-Z][a-z'’-]{1,20})[ \t]*(?:\n|$)")
_NOT_SIGNING_WORDS = frozenset({
    "team", "clinic", "department", "reception", "admin", "administration", "nursing",
    "management", "services", "office", "practice", "pharmacy", "customer", "claims",
    "support", "staff", "everyone", "all", "the", "us", "me", "dr", "doctor", "nurse",
    "enclosure", "enclosures", "encl", "cc", "attachments", "signed", "pp", "ward",
})
# a nickname in quotes or brackets after a name: Bridget Ní Fhloinn ("Bridie")
_NICK_AFTER = re.compile(rf"(?<=[{_LO}A-Z]) \(?[\"“](?P<n>[{_UP}][{_LO}]{{2,}})[\"”]\)?")
# the surname after a title, a given name and a nickname in brackets or quotes:
# 'Mr William ("Bill") TREGENZA', "Mrs Winifred (Winnie) CALLOWAY"
_SURNAME_AFTER_NICK = re.compile(
    rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?[ \t]+[{_UP}][{_LO}]+[ \t]+(?:\([\"“]?[{_UP}][{_LO}]+"
    rf"[\"”]?\)|[\"“][{_UP}][{_LO}]+[\"”])[ \t]+(?P<n>[{_UP}][{_UP}{_LO}'’-]+)(?![\w])")
# a chat line: "bee 7:02pm: ok so ...", "Kel 19:14 - thanks" (the speaker's name)
_CHAT_SPEAKER = re.compile(rf"^[ \t]*(?P<n>[{_UP}{_LO}][{_LO}'’-]{{1,15}}(?:[ \t][{_UP}{_LO}]"
                           rf"[{_LO}'’-]{{1,15}})?)[ \t]+(?:[01]?\d|2[0-3])[:.][0-5]\d"
                           r"(?:[ \t]?[AaPp]\.?[Mm]\.?)?[ \t]*(?:[:\-–]|$)", re.M)
# a chat line with no time: "tunde: went in last night", "aunty rose: ok" (a kinship word
# before the speaker's name is left out)
_CHAT_KIN = (r"aunty|auntie|aunt|uncle|cousin|nan|nana|gran|granny|grandma|grandpa|grandad|mum|"
             r"mom|dad|sis|bro|sister|brother|big|little|lil|baby|cuz|pastor|dr|nurse")
_CHAT_COLON = re.compile(rf"^[ \t]*(?:(?i:{_CHAT_KIN})[ \t]+)?(?P<n>[{_UP}{_LO}][{_LO}'’-]{{1,15}}"
                         rf"(?:[ \t][{_UP}{_LO}][{_LO}'’-]{{1,15}})?)[ \t]*:[ \t]+\S", re.M)
# a chat line with the time (and date) first: "[7:41] tash: ...", "14/01 07:52  hope
# adeyemi:" (a kinship word before the speaker's name is left out)
_CHAT_TIME_FIRST = re.compile(
    rf"^[ \t]*(?:\[[^\]\n]{{1,25}}\]|"
    rf"(?:(?i:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)\.?,?[ \t]+)?"
    rf"(?:\d{{1,2}}[/.-]\d{{1,2}}(?:[/.-]\d{{2,4}})?,?[ \t]+)?"
    rf"(?:[01]?\d|2[0-3])[:.][0-5]\d(?:[ \t]?[AaPp]\.?[Mm]\.?)?)[ \t,\-–]*"
    rf"(?:(?i:{_CHAT_KIN})[ \t]+)?(?P<n>[{_UP}{_LO}][{_LO}'’-]{{1,15}}"
    rf"(?:[ \t][{_UP}{_LO}][{_LO}'’-]{{1,15}}){{0,2}})(?:[ \t]*\([a-z][a-z .]{{1,20}}\))?"
    rf"[ \t]*(?::|$)",
    re.M)
#: words before a colon at the start of a line that are a field of a note, not a speaker
_FIELD_WORDS = L.words("""
plan hx pmh psh meds medications medication allergies allergy diagnosis diagnoses impression
assessment vitals vital note notes subject re from to cc bcc date time tel telephone fax mob
mobile email address home work gp pcp ward bed room action actions outcome comment comments
summary result results history exam examination social family background review pc hpc dh sh
fh rx dx tx px obs bp hr rr temp spo2 weight height bmi labs lab imaging procedure procedures
indication indications findings finding recommendation recommendations advice follow followup
disposition status problem problems issue issues goal goals intervention interventions
response plan occupation employer school contact contacts phone sex gender age dob mrn urn
nhs id ref reference claim policy member group account insurer insurance coverage payer
signature signed sign author reviewer reviewed attachment attachments encl enclosure
investigations investigation bloods blood urine ecg echo ct mri xray cxr us usg treatment
therapy management course progress events event incident category type severity location
site side pain mood affect thought thoughts insight judgement judgment risk risks safety
consent witness interpreter language religion diet mobility continence skin wound wounds
cognition sleep appetite nutrition hydration output input intake lines drains access airway
breathing circulation disability exposure triage arrival departure discharge admission
admitted transfer referral referred reason complaint complaints symptoms symptom onset
duration frequency dose doses route hospital clinic unit dept department service team
specialty consultant attending resident registrar nurse nurses doctor doctors patient pt
name surname forename dear hi hello thanks regards update updates ps nb fyi btw edit edited
""")
# cues after which a name needs a second word or a listed word
_SOFT_LABELS = (r"patient|pt|seen\s+by|signed\s+by|dictated\s+by|reviewed\s+by|discussed\s+with|"
                r"spoke\s+with|spoke\s+to|accompanied\s+by|follows\s+with|followed\s+by|"
                r"referred\s+by|referred\s+to|written\s+by|per|by|to|from|with|cc|attending|resident|"
                r"colleague|covering|electronically\s+signed|co-signed|cosigned|and")
_SOFT = re.compile(rf"(?<![A-Za-z])(?i:{_SOFT_LABELS}),?\s+(?:(?:Mr|Mrs|Ms|Dr)\.?\s+)?"
                   rf"(?P<n>{_LASTFIRST}|{_FULL_CAP}|{_UPPW} {_UPPW}(?: {_UPPW})?)")
_CRED = re.compile(rf"(?<![A-Za-z'’-])(?P<n>{_LASTFIRST}|{_FULL}),?\s+(?:(?:BSN|MSN|MS|MA|MPH|"
                   r"MBA|BA|BS|ADN|CCDS|CGC|CNS|CDE|CDCES|CCRN|RRT|DPT|OTR/?L?|CCC-SLP|LMSW|"
                   r"LPC|LMFT|PsyD|Esq\.?|RDN?|LD|CHES|RPh|BCPS|BCACP|FACC|FACP|FACS|EMT|"
                   r"EMT-P|NRP|CMA|CPhT|CNA),?\s+)*(?:MD|M\.D\.|DO|D\.O\.|NP|"
                   r"PA-C|PA|RN|PhD|MBBS|DDS|DMD|CNM|CRNA|LPN|FNP|FNP-BC|DNP|APRN|PharmD|MSW|"
                   r"LCSW|BSN|MSN|MS|CGC|CCDS|Esq\.?|EMT|PharmD|RPh|RDN?|LMSW|DPT|PsyD|RGN|RMN|"
                   r"RNLD|RM|RSCN|RPN|MRCP|MRCGP|MRCS|FRCP|FRCS|FRACP|FRACGP|MBChB|MBBCh|BMBS|"
                   r"FRCPC|CCFP|MRCPCH|FRCOG|MRCOG|FRCA|MRCPsych|CPNP(?:-PC|-AC)?|PNP|NNP|WHNP|AGNP|"
                   r"AGACNP|ACNP|PMHNP|ANP|FNP-C|MBBS|BDS|MPharm|BPharm|RPN|RPh|LVN|LNA)\b"
                   r"(?![ \t]*\d{5})")
_INTRO = re.compile(rf"(?:^|(?<=[\n.!?;]))\s*(?P<n>{_FULL}),?\s+(?:is|was)\s+an?\s+"
                    r"(?:\d|ninety|one\s+hundred|pleasant|well|very|frail|elderly)", re.M)
_HEADER = re.compile(rf"^[ \t]*(?P<n>{_LASTFIRST})(?=[ \t]*(?:\||\n|$|\(|MRN|DOB|,[ \t]*(?:MRN|"
                     r"DOB|\d)))", re.M)
_SEQ = re.compile(rf"(?<![A-Za-z'’-]){_FULL_CAP}")
_LF = re.compile(rf"(?<![A-Za-z])(?P<n>{_LASTFIRST})")
# lower-case names typed after a cue ("his daughter hope mcallister", "dr brown", "wife mary")
_LOWW = r"[a-z][a-z'’]*(?:-[a-z][a-z'’]*)?"
_LOWER_TITLE = re.compile(r"(?<![A-Za-z])(?=(?i:dr|doctor|mr|mrs|ms|miss|prof|nurse|sister|physio|"
                          r"aunty|auntie|uncle|madam|mdm|sis|tito|tita)\.?[ \t]+"
                          rf"(?P<n>{_LOWW}(?:[ \t]+{_LOWW})?))")
_LOWER_KIN = re.compile(rf"(?<![A-Za-z])(?:(?i:{_KIN}|named|name\s*:|pt\s*:|patient\s*:|"
                        r"pt\s+name\s*:|thx|thanks|thank\s+you|ty|regards|cheers|love|"
                        r"hi|hiya|hey|hello|dear|"
                        r"sincerely|xoxo|signed|sent\s+by|this\s+is|i\s+am|i'?m|it'?s|its|"
                        r"ask\s+for|buddy|mate|bestie)(?![A-Za-z]))")
_LOWER_NAME = re.compile(rf"[ \t]*[,(]?[ \t]*(?P<n>{_LOWW}(?:[ \t]+{_LOWW})?)(?![A-Za-z])")
_LOWER_PAIR = re.compile(rf"(?<![A-Za-z'’-])(?=(?P<n>{_LOWW}[ \t]+{_LOWW})(?![A-Za-z'’-]))")
# capitalised given name + capitalised word ("Jan Kowalski", "Zuzana Novakova")
_CAP_PAIR = re.compile(rf"(?<![A-Za-z'’-])(?=(?P<a>{_CAPW})[ \t]+(?P<b>{_CAPW})(?![A-Za-z'’-]))")
_SINGLE_NEXT = re.compile(r"[ \t]*(?:is|was|has|had|says|said|reports|reported|states|stated|"
                          r"lives|lived|works|worked|stays|stayed|attends|attended|"
                          r"called|came|comes|went|will|would|and|['’]s\b|,|\()")
#: Chat words that follow a name typed in lower case and are not its surname ("hiya ewan
#: thanks")
_CHAT_WORDS = frozenset({"thanks", "thx", "ty", "cheers", "love", "regards", "hi", "hiya",
                         "hey", "hello", "dear", "ok", "okay", "yes", "yeah", "no", "lol",
                         "haha", "pls", "plz", "please", "sorry", "x", "xx", "xox", "btw"})
# the husband's or father's name after "W/o", "S/o", "D/o" ("Mrs. R. Lakshmi, W/o Murugan")
_RELATION_OF = re.compile(r"(?<![A-Za-z])(?:[WSDC]/[Oo]|[Ww]ife\s+of|[Ss]on\s+of|[Dd]aughter\s+of)"
                          r"\.?[ \t]+(?:late[ \t]+)?(?:(?:Mr|Sri|Shri|Thiru)\.?[ \t]+)?"
                          r"(?P<n>[A-Z][a-z]+(?:[ \t][A-Z][a-z]+)?)")
# a given name that is also a month or a word, before a verb only a person does: "June
# fills the pillbox", "Hope agrees"
_WORD_NAME_ACTS = re.compile(r"(?<![A-Za-z'’-])(?P<n>January|February|April|June|July|August|"
                             r"Hope|Rose|Faith|Grace|Joy|Patience|Precious|Mercy|Charity|Will|"
                             r"Bill|Pat|Sunny|Summer|Autumn|Dawn|Ivy|Holly|Daisy|Lily|Iris|Jan)"
                             r"[ \t]+(?:agrees|agreed|fills|filled|says|said|reports|reported|"
                             r"phones|phoned|rang|rings|visits|visited|brings|brought|drives|"
                             r"manages|wants|wanted|thinks|feels|knows|lives|cares|helps|helped|"
                             r"prefers|declined|declines|asked|asks|attends|attended|called|"
                             r"calls|texted|texts|stays|stayed|signed|consented)\b")
# a dictation reference on its own at a line's end: "Typed: 19/03/2025   MOC/ar" (the
# author's and the typist's initials)
_DICTATION_REF = re.compile(r"(?:[ \t]{2,}|(?i:ref(?:erence)?|our\s+ref|your\s+ref)[ \t]*:?[ \t]*)"
                            r"(?P<a>[A-Z]{2,4})/(?P<b>[a-z]{2,3}|[A-Z]{2,3})[ \t]*$", re.M)
_UNITS_AFTER_SLASH = frozenset({"ml", "dl", "l", "kg", "hr", "min", "day", "wk", "mo", "yr",
                                "mcg", "mg", "g", "h", "d", "s", "m", "mmol", "umol", "iu", "ul",
                                "cm", "mm", "sec", "hrs", "ng", "pg", "meq", "bpm"})
# a lower-case name alone on the line after a sign-off: "thanks\naga"
_LOWER_SIGN_OFF = re.compile(rf"(?i:thanks|thx|ty|cheers|regards|love|thank\s+you|ta)[ \t!.,]*\n"
                             rf"[ \t]*(?P<n>{_LOWW})[ \t]*(?:\n|$)")
# a listed given name in lower case before a verb of speech: "gerry says fine"
_LOWER_SAYS = re.compile(rf"(?<![A-Za-z'’-])(?P<n>{_LOWW})[ \t]+(?:says|said|wants|thinks|"
                         r"reckons|asked|told|texted|rang|called|will\s+bring|is\s+coming)\b")
# two lower-case words before an age: "kenji morimoto 44y/o japanese"
_LOWER_AGED = re.compile(rf"(?<![A-Za-z'’-])(?P<n>{_LOWW}[ \t]+{_LOWW}),?[ \t]+\d{{1,3}}[ \t]*"
                         r"(?:y/?o|yo|yrs?|years?\s+old|[mf])\b")
# "GRACE T. ABERNATHY": a first name, a middle initial and a surname, in capitals
_MIDDLE_INITIAL = re.compile(r"^[A-Z]{2,}[A-Z'-]* [A-Z]\. [A-Z]{2,}")
_INITIALS = re.compile(r"(?<![A-Za-z.])(?:[A-Z]\.[ ]?){2,3}(?![A-Za-z])")
_NOT_INITIALS = frozenset({
    "US", "PO", "AM", "PM", "OD", "OS", "OU", "MD", "DO", "RN", "NP", "PA", "BID", "TID",
    "QID", "PRN", "NPO", "IV", "IM", "SC", "UK", "ER", "ID", "DC", "QD", "QHS", "HS", "AC",
    "PC", "OT", "PT", "BP", "HR", "EG", "IE", "NB", "PS", "CC", "RR", "AD", "AS", "AU",
    "USA", "SOB", "NKA", "DNR", "MA", "BA", "BS", "MS", "MPH", "PHD", "JD", "DDS",
})
_MONTH_NAMES = L.words("may june april august jan march")
#: Initials that sign or check a record: "Initials: SNB / checked PD", "MF / typed by Kaz",
#: "... completed 29.10.24 16:52 by KR"
_SIGNING_INITIALS = re.compile(
    r"(?:(?:(?i:initials)[ \t]*:|(?i:checked(?:[ \t]+by)?|typed[ \t]+by|entered[ \t]+by|"
    r"completed[ \t]+by|countersigned(?:[ \t]+by)?)[ \t]*:?)[ \t]*(?P<a>[A-Z]{2,3})"
    r"(?![A-Za-z0-9]|[ \t]*[:=]?[ \t]*\d)|"
    r"(?i:(?:completed|signed|reviewed|seen|assessed|written|done|entered|recorded|closed|"
    r"discussed|approved|authori[sz]ed|reported|verified|taken|given)\b[^\n]{0,40}?"
    r"\bby)[ \t]+(?P<b>[A-Z]{2,3})[ \t.]*$|"
    r"(?i:\bby)[ \t]+(?P<d>[A-Z]{2,3})[ \t]*\((?:ANP|RN|NP|PA|CNS|SHO|FY\d|SpR|"
    r"reg|registrar|cons|nurse|physio|OT|dietitian)\)|"
    r"^[ \t]*(?P<c>[A-Z]{2,3})[ \t]*/[ \t]*(?i:typed|dictated|checked|entered))", re.M)
#: a name typed in lower case with an initial, before a nurse's or doctor's credential:
#: "given by j. oduya RN   taken by tess m. RN"
_LOWER_CRED = re.compile(r"(?<![A-Za-z.])(?P<n>[a-z]\.[ ]?[a-z]{2,}(?:[-'][a-z]+)?|"
                         r"[a-z]{2,}[ ][a-z]\.)[ \t]+(?:RN|NP|MD|LPN|CNA|RM|EN|PA)\b")
#: what "Sr." (serum) comes before in a lab line
_ANALYTE = re.compile(r"(?i)(?:na|k|cl|ca|mg|cr|creat\w*|urea|alb\w*|bil\w*|tsh|t4|ferritin|b12|"
                      r"iron|phos\w*|uric|ldh|amylase|lipase)\b")
#: a column's last word that is a route, a frequency or a result, not a signer
_NOT_ROW_SIGNERS = frozenset({
    "PO", "IV", "SC", "IM", "PR", "SL", "NG", "OD", "BD", "TDS", "QDS", "ON", "OM", "NOCTE",
    "PRN", "STAT", "NEG", "POS", "NIL", "YES", "NO", "NA", "ND", "NAD", "OK", "LOW", "HIGH",
    "MOD", "TR", "TRACE", "WNL", "RT", "LT", "BIL", "MG", "ML", "MMOL", "KG", "CM", "MM",
})
#: initials that sign each row of a checklist, in their own column: "...   Y     KL"
_ROW_INITIALS = re.compile(r"(?m)(?<![ \t])[ \t]{2,}(?P<n>[A-Z]{2,3})[ \t]*$")
#: the typist's initials in brackets: "Typed: 13/11/2024 (CM)", "Dictated 12/3 (mk)"
_TYPED_INITIALS = re.compile(r"(?i:typed|dictated|transcribed)\b[^\n()]{0,24}"
                             r"\((?P<n>[A-Za-z]{2,3})\)")
#: initials alone on a note's last line, its author: "k.b.", "J.M."
_LAST_LINE_INITIALS = re.compile(r"\n[ \t]*(?P<n>[A-Za-z]\.[ ]?[A-Za-z]\.?(?:[ ]?[A-Za-z]\.)?)"
                                 r"[ \t]*\n*\Z")
#: clinical and administrative abbreviations that sign nothing ("referred by GP")
_NOT_SIGNING_ABBR = frozenset({
    "GP", "ED", "AE", "ICU", "ITU", "HDU", "OT", "PT", "MDT", "CT", "MRI", "ENT", "HCA", "SHO",
    "NHS", "CCU", "OPD", "IPD", "EMS", "EMT", "NP", "RN", "MD", "DR", "DN", "HV", "SW", "PA",
    "SLT", "OOH", "UCC", "UTC", "NOK", "PCP", "ER", "OR", "PACU", "NICU", "PICU", "SCBU",
    "NHI", "MRN", "DOB", "ID", "UR", "HR",
})
#: lower-case words after "dr" / "nurse" that are not a name ("nurse practitioner")
_NOT_AFTER_TITLE = L.words("""
practitioner practitioners station led specialist specialists manager managers visit visits
appt appointment appointments office offices note notes letter letters review reviews
wants wanted says said told tells thinks thought reckons rang rung rings called calls came
comes asked asks gave gives gives put puts did does done wrote writes saw sees seeing
changed stopped started increased decreased checked check checks came coming going gone
is was has had will would should could can cant can't won't didnt didn't doesnt doesn't
isnt isn't wasnt wasn't here there today tomorrow yesterday tonight later soon already
also just only still then now again and or but the a an on in at of for with about
follow-up followup f/u team clinic service services via
""")
_CREDENTIALS = L.words("md do rn np pa phd mbbs facp facs dds dmd pharmd lpn cna crna mch dnb "
                       "msn bsn mph ms ma jr sr ii iii iv pa-c fnp dnp aprn msw lcsw rgn rmn "
                       "mbchb mrcp mrcgp frcp frcs cpnp pnp nnp whnp agnp agacnp acnp pmhnp "
                       "anp fnp-c bds mpharm bpharm rpn rph lvn lna")


# every pattern above starts with a letter (an upper-case one for a name)
_COLON, _KIN_CUE, _SOFT, _LOWER_KIN, _LOWER_TITLE, _SIGN_OFF, _TITLE, _NURSE = (
    fast_start(p) for p in (_COLON, _KIN_CUE, _SOFT, _LOWER_KIN, _LOWER_TITLE, _SIGN_OFF,
                            _TITLE, _NURSE))
_CRED, _KIN_AFTER, _LF, _SEQ, _CAP_PAIR, _SEQ_UP = (
    fast_start(p, _UP) for p in (_CRED, _KIN_AFTER, _LF, _SEQ, _CAP_PAIR, _SEQ_UP))


_UNFOLDED = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "ŀ": "l"})


def _fold(word: str) -> str:
    """``word`` without its diacritics (Bożena -> bozena, Łukasz -> lukasz): the name lists
    hold most names of accented languages in both forms or the plain one only."""
    plain = unicodedata.normalize("NFKD", word.translate(_UNFOLDED))
    return "".join(c for c in plain if not unicodedata.combining(c))


def _tokens(name: str) -> list[str]:
    """The lower-case words of a name candidate, initials left out, without diacritics."""
    return [_fold(t.strip(".,").lower()) for t in re.split(r"[\s,]+", name)
            if len(t.strip(".,")) > 1]


def _never(token: str, strong: bool) -> bool:
    """A word that is not a name part here (eponyms count as names only after a cue)."""
    if len(token) == 2 and token[1] == "." and token[0].isalpha():
        return False  # an initial ("A. Turner"), not the word "a"
    if strong and token in _MONTH_NAMES:
        return False  # "Ms. Jan Kowalski", "Dr. June Park"
    return token in L.EN_NOT_NAMES or token in _CREDENTIALS or (not strong and (
        token in L.EN_EPONYMS or ("-" in token and all(
            part in L.EN_EPONYMS for part in token.split("-")))))  # Osgood-Schlatter


def _trim_name(text: str, start: int, end: int, strong: bool) -> tuple[int, int] | None:
    """Drop leading/trailing words that are not name parts (credentials, eponyms, labels)."""
    words = list(re.finditer(r"[^\s,]+", text[start:end]))
    while words and _never(_word_key(words[-1].group(0)), strong):
        words.pop()
    while words and _never(_word_key(words[0].group(0)), strong):
        words.pop(0)
    if not words:
        return None
    s, e = start + words[0].start(), start + words[-1].end()
    if text[s:e].endswith(("'s", "’s")):
        e -= 2
    elif text[s:e].endswith(".") and not re.search(r"(?:^|[\s.])[A-Z]\.$", text[s:e]):
        e -= 1
    return (s, e) if e > s else None


def _word_key(word: str) -> str:
    """A word as ``_never`` compares it: lower case, without dots, except an initial ("a.")."""
    low = word.lower()
    return low if re.fullmatch(r"[a-z]\.", low) else low.strip(".")


def _known(token: str) -> bool:
    return token in L.EN_FIRST_NAMES or token in L.EN_SURNAMES or (
        token in N.all_names() and token not in N.common_words())


def _plausible(toks: list[str], strong: bool = False) -> bool:
    """Not made only of words that are never names (labels, eponyms, credentials)."""
    return bool(toks) and not any(t in L.EN_NOT_NAMES and not (strong and t in _MONTH_NAMES)
                                  for t in toks) and not all(_never(t, strong) for t in toks)


def _weak_run(toks: list[str]) -> bool:
    """Whether capitalised words with no cue are a name, by the name lists."""
    first, last = toks[0], toks[-1]
    if any(t in L.EN_EPONYMS for t in toks) and first not in L.EN_FIRST_NAMES:
        return False
    if len(toks) == 1:
        return first in L.EN_FIRST_NAMES and first not in L.AMBIGUOUS_EN_NAMES
    first_ok = first in L.EN_FIRST_NAMES and first not in L.AMBIGUOUS_EN_NAMES
    last_ok = last in L.EN_SURNAMES and last not in L.AMBIGUOUS_EN_NAMES
    return first_ok or last_ok or (first in L.EN_FIRST_NAMES and last in L.EN_SURNAMES)


@recogniser("name-en", ("en",))
def _en_names(text: str) -> list[_Cand]:
    strong: list[tuple[int, int]] = []
    weak: list[tuple[int, int]] = []

    def add(into: list[tuple[int, int]], start: int, end: int) -> None:
        span = _trim_name(text, start, end, into is strong)
        if span:
            into.append(span)

    for m in _TITLE.finditer(text):
        if m.group(0).startswith("Sr") and _ANALYTE.match(m.group("n")):
            continue  # "Sr. Na 131 mEq/L", "Sr. creatinine": serum, not a Sister
        add(strong, *m.span("n"))
    for m in _SURNAME_AFTER_NICK.finditer(text):
        word = m.group("n")
        if word.isupper() or word.lower() not in N.common_words():  # not "Reviewed"
            add(strong, *m.span("n"))
    for pattern in (_COLON, _CRED, _INTRO, _HEADER, _KIN_CUE, _KIN_AFTER, _NURSE, _SIGN_OFF,
                    _NICK_AFTER):
        for m in pattern.finditer(text):
            toks = _tokens(m.group("n"))
            if text.startswith("Sr", m.start()) and _ANALYTE.fullmatch(m.group("n")):
                continue  # "Sr. Na 131 mEq/L": serum sodium
            if _plausible(toks, strong=True):
                add(strong, *m.span("n"))
            elif pattern is _KIN_CUE and toks and all(t in _MONTH_NAMES for t in toks):
                strong.append(m.span("n"))  # "her daughter May", "son August"
    for m in _ROLE_CUE.finditer(text):
        token = m.group("n").lower()
        if not _never(token, False) and (token in L.EN_FIRST_NAMES or (
                token in N.given_names() and token not in N.common_words())):
            add(strong, *m.span("n"))
    for m in _SOFT.finditer(text):
        if re.fullmatch(r"[A-Z]{2,4},?[ ]?[A-Z]{2,4}", m.group("n")):
            continue  # "by IFA, RF": abbreviations after "by"
        toks = _tokens(m.group("n"))
        initial = re.match(r"[A-Z]\. ?[A-Z][a-z]", m.group("n")) is not None
        if not _plausible(toks, strong=initial):
            continue
        if initial:  # "A. Turner": an initial and a surname after a cue
            add(strong, *m.span("n"))
        elif any(_known(t) and t not in L.AMBIGUOUS_EN_NAMES for t in toks) or len(toks) >= 2:
            add(weak, *m.span("n"))
    for m in _SEQ_UP.finditer(text):
        toks = _tokens(m.group(0))
        if toks and not any(_never(t, False) for t in toks) and (
                _weak_run(toks) or _MIDDLE_INITIAL.search(m.group(0))):
            add(weak, *m.span())
    for m in _SEQ.finditer(text):
        # split the run at words that are never names ("Nurse Carl", "Dr Smith Clinic")
        run: list[re.Match[str]] = []
        words = list(re.finditer(r"\S+", m.group(0)))
        for w in [*words, None]:
            token = w.group(0).strip(".,").lower() if w is not None else None
            if w is not None and token is not None and not _never(token, False):
                run.append(w)
                continue
            if run and _weak_run([r.group(0).strip(".,").lower() for r in run]):
                add(weak, m.start() + run[0].start(), m.start() + run[-1].end())
            run = []
    for m in _LF.finditer(text):
        if re.fullmatch(r"[A-Z]{2,4},[ ]?[A-Z]{2,4}", m.group("n")):
            continue  # "ANA negative by IFA, RF 8 IU/mL": two abbreviations
        last, first = (t.strip().lower() for t in m.group("n").split(",", 1))
        first = first.split()[0] if first.split() else first
        if _never(first, False) or _never(last, False):
            continue
        if first in L.EN_FIRST_NAMES or (last in L.EN_SURNAMES and
                                         last not in L.AMBIGUOUS_EN_NAMES) or (
                first in N.given_names() and last in N.surnames()
                and last not in N.common_words()):
            add(weak, *m.span("n"))
    speakers = _chat_speakers(text) + _chat_colon_speakers(text)
    strong += speakers
    strong += [m.span("n") for m in _LOWER_CRED.finditer(text)]
    signed = [m for m in _ROW_INITIALS.finditer(text)
              if m.group("n") not in _NOT_SIGNING_ABBR | _NOT_INITIALS | _NOT_ROW_SIGNERS]
    by_value: dict[str, list[re.Match[str]]] = {}
    for m in signed:
        by_value.setdefault(m.group("n"), []).append(m)
    strong += [m.span("n") for rows in by_value.values() if len(rows) >= 3 for m in rows]
    strong += [m.span("n") for m in _TYPED_INITIALS.finditer(text)]
    last = _LAST_LINE_INITIALS.search(text)
    if last is not None:
        strong.append(last.span("n"))
    for m in _SIGNING_INITIALS.finditer(text):
        group = next(g for g in ("a", "b", "c", "d") if m.group(g))
        role = text[m.end(group):m.end()].strip().startswith("(")
        if role or m.group(group) not in _NOT_SIGNING_ABBR | _NOT_INITIALS:
            strong.append(m.span(group))
    _lower_and_world_names(text, strong, weak, add)
    weak += _propagate_en(text, strong + weak)
    weak += _propagate_lower(text, speakers)
    strong += _signature_lines(text)
    strong = _with_initial_before(text, _with_initial_after(text, _with_given_name(text,
                                                                                 strong)))
    weak = _with_initial_before(text, _with_initial_after(text, _with_given_name(text, weak)))
    out = [(s, e, "NAME", _PRIORITY["NAME_STRONG"]) for s, e in _merge_adjacent(text, strong)]
    out += [(s, e, "NAME", _PRIORITY["NAME"]) for s, e in _merge_adjacent(text, weak)]
    return out


# a signature: initial(s) and a surname starting a line, then a credential or a date
# ("M. Sutherland SN   09/01/2025", "M-A Tran, PharmD 11/10/24")
_SIGNATURE = re.compile(
    rf"^[ \t]*(?:(?:Dr|Mr|Mrs|Ms)\.?[ \t]+)?(?P<n>[A-Z](?:-[A-Z])?\.?[ \t]?{_PARTICLE}?"
    rf"{_CAPW})(?=,?[ \t]+(?:[A-Z][A-Za-z]{{0,6}}\b|\d{{1,2}}[/.-]\d))", re.M)


def _signature_lines(text: str) -> list[tuple[int, int]]:
    out = []
    for m in _SIGNATURE.finditer(text):
        surname = m.group("n").split()[-1].split(".")[-1].strip().lower()
        if len(surname) >= 3 and not _never(surname, False):
            out.append(m.span("n"))
    return out


def _name_like(token: str) -> bool:
    """A word that may be part of a name: a listed name, or a word no list knows."""
    return token in N.all_names() or (token not in N.common_words() and len(token) >= 3)


def _lower_and_world_names(text: str, strong: list[tuple[int, int]],
                           weak: list[tuple[int, int]], add: Callable[..., None]) -> None:
    """Lower-case names after cues, and names from the many-locale lists (``_names``)."""
    function_words = N.COMMON_EN - L.AMBIGUOUS_EN_NAMES
    cued = [(m, True) for m in _LOWER_TITLE.finditer(text)]
    for cue in _LOWER_KIN.finditer(text):
        name = _LOWER_NAME.match(text, cue.end())
        if name:
            cued.append((name, False))
    for m, titled in cued:
        words = list(re.finditer(r"\S+", m.group("n")))
        toks = [w.group(0).lower() for w in words]
        first = toks[0]
        second_ok = len(toks) == 2 and _name_like(toks[1]) and \
            toks[1] not in N.common_words() and toks[1] not in _CREDENTIALS and \
            toks[1] not in N.COMMON_EN and toks[1] not in _CHAT_WORDS
        first_ok = first in N.all_names() and first not in function_words and (
            titled or second_ok or first not in N.common_words())
        if titled and not first_ok:  # "dr mcallister", "nurse bisola": a word no list knows
            first_ok = (len(first) >= 3 and first not in N.common_words()
                        and first not in _FIELD_WORDS and first not in _CREDENTIALS
                        and first not in _NOT_AFTER_TITLE and not _never(first, False))
        if not first_ok:
            continue
        end = m.start("n") + (words[1].end() if second_ok else words[0].end())
        add(strong, m.start("n"), end)
    given, family, common = N.given_names(), N.surnames(), N.common_words()
    for m in _LOWER_SIGN_OFF.finditer(text):  # a word alone after "thanks": its writer
        token = m.group("n").lower()
        if len(token) >= 2 and token not in N.COMMON_EN and token not in common \
                and token not in _FIELD_WORDS and not _never(token, False):
            add(strong, *m.span("n"))
    for m in _SIGN_OFF_ALONE.finditer(text):
        if m.group("n").lower() not in _NOT_SIGNING_WORDS:
            strong.append(m.span("n"))
    for m in _RELATION_OF.finditer(text):
        if not _never(m.group("n").split()[0].lower(), False):
            strong.append(m.span("n"))
    for m in _WORD_NAME_ACTS.finditer(text):
        weak.append(m.span("n"))
    for m in _DICTATION_REF.finditer(text):
        if m.group("b").lower() not in _UNITS_AFTER_SLASH and \
                m.group("a") not in _NOT_SIGNING_INITIALS:
            strong.append(m.span("a"))
            strong.append(m.span("b"))
    for m in _LOWER_SAYS.finditer(text):
        token = m.group("n").lower()
        if len(token) >= 3 and token in given and token not in common \
                and not re.fullmatch(rf"(?i:{_KIN})", token) \
                and token not in function_words and not _never(token, False):
            add(weak, *m.span("n"))
    for m in _LOWER_AGED.finditer(text):
        toks = m.group("n").lower().split()
        if all(len(t) >= 2 and t not in common and t not in N.COMMON_EN
               and t not in _FIELD_WORDS and not _never(t, False) for t in toks) and \
                any(t in given or t in family for t in toks):
            add(weak, *m.span("n"))
    for m in _LOWER_PAIR.finditer(text):
        a, b = (t.lower() for t in m.group("n").split())
        if a in given and b in family and a not in common and b not in common:
            add(weak, *m.span("n"))
    for m in _CAP_PAIR.finditer(text):
        a, b = _fold(m.group("a").lower()), _fold(m.group("b").lower())
        month = a in L.EN_NOT_NAMES and a in given  # "Jan Kowalski", "June Carter"
        if (_never(a, False) and not month) or _never(b, False) or b in common:
            continue
        if month and (b in given and b not in family):
            continue
        if (a in given and (b in family or b not in given)) or (
                a not in common and a in given and b in family):
            if month:  # not trimmed: the month word is the given name here
                weak.append((m.start("a"), m.end("b")))
            else:
                add(weak, m.start("a"), m.end("b"))
    for m in re.finditer(rf"(?<![A-Za-z'’-]){_CAPW}(?![A-Za-z'’-])", text):
        token = m.group(0).lower()
        if (len(token) >= 4 and token in given and token not in common
                and not _never(token, False) and _SINGLE_NEXT.match(text, m.end())):
            add(weak, *m.span())
    for m in _INITIALS.finditer(text):
        letters = re.sub(r"[^A-Z]", "", m.group(0))
        if letters not in _NOT_INITIALS:
            add(weak, m.start(), m.end())


def _chat_speakers(text: str) -> list[tuple[int, int]]:
    """Speakers of a chat: a name that starts two or more lines before a time of day."""
    found = [m for m in _CHAT_SPEAKER.finditer(text)
             if m.group("n").lower() not in N.COMMON_EN or m.group("n")[0].isupper()]
    counts: dict[str, int] = {}
    for m in found:
        counts[m.group("n").lower()] = counts.get(m.group("n").lower(), 0) + 1
    return [m.span("n") for m in found
            if counts[m.group("n").lower()] >= 2 or len(counts) >= 2]


def _chat_colon_speakers(text: str) -> list[tuple[int, int]]:
    """Speakers of a chat written ``name: message`` with no time, or with the time first
    (``[7:41] tash: ...``): two or more names that each start two or more lines, none of
    them a field of a note ("Plan:", "Meds:")."""
    return (_colon_speakers(text, _CHAT_COLON, 2)
            + _colon_speakers(text, _CHAT_TIME_FIRST, 1))


def _colon_speakers(text: str, pattern: re.Pattern[str], speakers: int
                    ) -> list[tuple[int, int]]:
    """``pattern``'s speakers when at least ``speakers`` of them start two or more lines
    each (after a time, one such speaker is enough: "[9:31] uncle kev: ...")."""
    found: dict[str, list[tuple[int, int]]] = {}
    for m in pattern.finditer(text):
        name = m.group("n")
        toks = [t.lower() for t in name.split()]
        kin = m.start("n") > m.start() and text[m.start():m.start("n")].strip() != ""
        # a month that is also a given name speaks after a time ("21:14  jan kowalczyk:")
        month_ok = pattern is _CHAT_TIME_FIRST
        if any(t in _FIELD_WORDS or (t in L.EN_NOT_NAMES and not (month_ok and t in _MONTH_NAMES))
               or len(t) < 2 for t in toks):
            continue
        if not kin and any(t in N.common_words() and t not in N.all_names()
                           and not (month_ok and t in _MONTH_NAMES) for t in toks):
            continue
        found.setdefault(name.lower(), []).append(m.span("n"))
    repeated = {k: v for k, v in found.items() if len(v) >= 2}
    if len(repeated) < speakers:
        return []
    return [span for spans in (found.values() if speakers == 1 else repeated.values())
            for span in spans]


def _propagate_lower(text: str, speakers: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Later mentions of a chat speaker's name, in any case ("can u kel"), unless the name
    is a common word ("bee")."""
    names = {text[s:e].lower() for s, e in speakers}
    names = {n for n in names if len(n) >= 3 and n not in N.COMMON_EN
             and n not in N.common_words()}
    out = []
    for name in names:
        for m in re.finditer(rf"(?<![{_UP}{_LO}]){re.escape(name)}(?![{_UP}{_LO}])", text,
                             re.I):
            out.append(m.span())
    return out


def _with_given_name(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A found name with the listed given name written just before it ("Rose Llewellyn")."""
    out = []
    for s, e in spans:
        m = _GIVEN_BEFORE.search(text, max(0, s - 20), s)
        given = m.group(1).lower() if m else ""
        caps = text[s:e].split()[-1] if text[s:e].split() else ""
        if m and m.end() == s and (given in L.EN_FIRST_NAMES or given in L.AMBIGUOUS_EN_NAMES
                                   or (given in N.given_names()
                                       and given not in N.common_words())
                                   # "Josaia TUIVAGA": a given name before a surname in
                                   # capitals, listed or not
                                   or (len(caps) >= 3 and caps.isupper() and caps.isalpha()
                                       and given not in N.common_words()
                                       and given not in N.COMMON_EN
                                       and not _never(given, False))):
            s = m.start(1)
        out.append((s, e))
    return out


_INITIAL_AFTER = re.compile(r"[ \t][A-Z]\.(?![A-Za-z])|[ ][A-Z](?=[ \t]{2,}|\t|[ \t]*\n|[ \t]*$)")
_INITIAL_BEFORE = re.compile(r"(?<![A-Za-z.])[A-Z](?:-[A-Z])?\.?[ \t]$")


def _with_initial_before(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A found name with the initial written just before it ("A. Te Whaiti", "M-A
    Tran")."""
    out = []
    for s, e in spans:
        m = _INITIAL_BEFORE.search(text, max(0, s - 5), s)
        out.append((m.start(), e) if m and m.end() == s and e - s >= 3 else (s, e))
    return out


def _with_initial_after(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A found name with the initial written just after it ("Shobha R.", "Yesenia G.,")."""
    out = []
    for s, e in spans:
        m = _INITIAL_AFTER.match(text, e)
        out.append((s, m.end()) if m and e - s >= 3 else (s, e))
    return out


_GIVEN_BEFORE = re.compile(rf"(?<![{_UP}{_LO}])([{_UP}][{_LO}]+)[ \t]$")
_WORD_START = re.compile(rf"(?<![{_UP}{_LO}])[{_UP}{_LO}][{_UP}{_LO}'’-]")


def _propagate_en(text: str, found: list[tuple[int, int]]) -> list[tuple[int, int]]:
    words: set[str] = set()
    for s, e in found:
        for w in re.findall(rf"[{_UP}{_LO}][{_UP}{_LO}'’-]+", text[s:e]):
            low = w.lower()
            if (len(w) >= 3 and not _never(low, False) and low not in L.AMBIGUOUS_EN_NAMES
                    and low not in _CREDENTIALS and w[0].isupper()):
                words.add(w)
                if w.isupper():
                    words.add(w.capitalize())
                elif not w.isupper():
                    words.add(w.upper())
    if not words:
        return []
    # every later mention: a word starting where no letter precedes it and not followed by a
    # lower-case letter, the longest first (a scan by two-letter key: one pattern per note
    # would be compiled anew for every note)
    by_key: dict[str, list[str]] = {}
    for w in sorted(words, key=len, reverse=True):
        by_key.setdefault(w[:2], []).append(w)
    out, pos, n = [], 0, len(text)
    for m in _WORD_START.finditer(text):
        start = m.start()
        if start < pos:
            continue
        for w in by_key.get(m.group(), ()):
            end = start + len(w)
            if text.startswith(w, start) and not (end < n and text[end].islower()):
                out.append((start, end))
                pos = end
                break
    return out


def _merge_adjacent(text: str, spans: Iterable[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    ordered = sorted(set(spans))
    current: list[int] | None = None
    for s, e in ordered:
        if current is not None and (s <= current[1] or re.fullmatch(
                r" ?(?:[A-Z]\. ?)?", text[current[1]:s])):
            current[1] = max(current[1], e)
            continue
        if current is not None:
            yield current[0], current[1]
        current = [s, e]
    if current is not None:
        yield current[0], current[1]




# -- initials that sign a note off ------------------------------------------------------
#: A line of two or three capitals alone (or after a time, or before "/ role") among the
#: last lines of a note: the writer's initials ("JW", "WH / reg", "signed 16:42   SC").
_INITIALS_LINE = re.compile(r"(?m)^(?:[^\n]*\d{1,2}:\d{2}[ \t]+)?[ \t]*(?P<n>[A-Z]{2,3})[ \t]*"
                       r"(?:/[ \t]*[A-Za-z]{2,12}[ \t]*)?$")
#: Two or three capitals that are a clinical or administrative word, not initials.
_NOT_SIGNING_INITIALS = frozenset({
    "ED", "GP", "ICU", "HDU", "CCU", "RN", "EN", "MO", "PRN", "BP", "HR", "RR", "OK", "NAD",
    "TTO", "NFA", "DNR", "NFR", "IV", "IM", "SC", "PO", "NBM", "NPO", "ECG", "EKG", "CXR",
    "CT", "MRI", "USS", "FBC", "CBC", "LFT", "UE", "ABG", "VBG", "CRP", "ESR", "TSH", "INR",
    "AKI", "CKD", "COPD", "UTI", "DVT", "PE", "MI", "CVA", "TIA", "OT", "PT", "SLT", "SALT",
    "DN", "HCA", "CNA", "LPN", "LVN", "NP", "PA", "MD", "DO", "BD", "TDS", "QDS", "OD", "ON",
    "AM", "PM", "END", "YES", "NO", "NA", "NIL", "TBC", "TBA", "FYI", "ASAP", "EOD", "PTO",
    "CC", "BCC", "RE", "FW", "FWD", "PS", "NB", "ENT", "OBS", "GCS", "AVPU", "HB", "WCC",
})


#: Initials after a dash signature on one of the last lines: "-- SG", "- KT"; a doctor's
#: initials ("Dr. SR"); initials with a grade in brackets ("AN (SpR)"); mixed initials
#: ("AMcL")
_DASH_INITIALS = re.compile(r"(?m)^[ \t]*(?:-{1,2}|Dr\.?)[ \t]*(?P<n>[A-Z]{2,3})[ \t]*$|"
                            r"^[ \t]*(?P<g>[A-Z]{2,3})[ \t]+\((?:SpR|SHO|FY[12]|Reg|CT[12]|ST\d|"
                            r"Cons|RMO|HO|MO|JHO|SHO)\)[ \t]*$|"
                            r"^[ \t]*(?P<x>[A-Z][a-z]?[A-Z][a-z]?[A-Z]?)[ \t]*$", re.M)
#: The last column of a dated log or table row: who signed it ("16/01/25  3.6  omit 1
#: NMcG"): two to four letters, two or more of them capitals, after two spaces or a tab
_LOG_INITIALS = re.compile(r"(?m)^[ \t]*\d{1,2}[/.-]\d{1,2}(?:[/.-]\d{2,4})?(?![\d/.-])[^\n]*?"
                           r"(?:[ \t]{2,}|\t)(?P<n>[A-Z][A-Za-z]{1,3})[ \t]*$")


@recogniser("sign-off-initials", ("en",))
def _initials_signing(text: str) -> list[_Cand]:
    """Initials alone on one of the last three non-empty lines (the note's signature), and
    initials ending two or more dated rows of a log (who signed each row)."""
    lines = [m for m in re.finditer(r"[^\n]*\S[^\n]*", text)]
    if not lines:
        return []
    last = lines[-3].start() if len(lines) >= 3 else lines[0].start()
    out = []
    for m in _INITIALS_LINE.finditer(text, last):
        if m.group("n") not in _NOT_SIGNING_INITIALS or re.search(r"(?i)\bsigned\b", m.group(0)):
            out.append((m.start("n"), m.end("n"), "NAME", _PRIORITY["NAME"]))
    for m in _DASH_INITIALS.finditer(text, last):
        group = next(g for g in ("n", "g", "x") if m.group(g))
        value = m.group(group)
        if value.upper() not in _NOT_SIGNING_INITIALS and (group != "x" or (
                sum(c.isupper() for c in value) >= 3 and any(c.islower() for c in value))):
            out.append((m.start(group), m.end(group), "NAME", _PRIORITY["NAME"]))
    rows = [m for m in _LOG_INITIALS.finditer(text)
            if sum(c.isupper() for c in m.group("n")) >= 2
            and m.group("n").upper() not in _NOT_SIGNING_INITIALS]
    if len(rows) >= 2:
        out += [(m.start("n"), m.end("n"), "NAME", _PRIORITY["NAME"]) for m in rows]
    return out


#: "(done by Thandi, vascular lab)", "seen by Okafor": a person who did something, when
#: the word is in the name lists and is not a common word
_DONE_BY = re.compile(r"\b(?i:done|seen|reviewed|checked|performed|taken|scanned|reported|"
                      r"assessed|examined|typed|dictated|witnessed|counselled|swabbed|"
                      r"triaged|bled|consented)\s+by\s+(?P<n>[A-Za-z][a-z'’-]{2,})(?![A-Za-z])")


@recogniser("done-by", ("en",))
def _done_by(text: str) -> list[_Cand]:
    names, common = N.all_names(), N.common_words()
    return [(m.start("n"), m.end("n"), "NAME", _PRIORITY["NAME"])
            for m in _DONE_BY.finditer(text)
            if m.group("n").lower() in names and m.group("n").lower() not in common]
