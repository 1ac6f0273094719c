"""Chinese names written in pinyin ("Wang Wei", "ZHANG Xiaoming", "Li Na"), in both
languages: a listed pinyin surname and a given name made of pinyin syllables."""

from __future__ import annotations

import re

from fedcare.deid import _lexicon as L
from fedcare.deid import _names as N

from ._base import PRIORITY as _PRIORITY
from ._base import Cand as _Cand
from ._base import recogniser

_SURNAMES = L.words("""
wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he gao lin luo zheng
liang xie song tang han feng deng cao peng zeng xiao tian dong yuan pan yu jiang cai du ye
cheng su wei lu ding ren shen yao cui zhong tan fan jin shi liao jia xia fu fang bai zou
meng xiong qin qiu yin xue yan duan lei hou long tao mao hao gong shao wan qian dai kong
xiang chang wen kang niu ge xing an qi qiao pang ni zhuang nie yue zhai zhan ou geng guan
lan jiao zuo gan bao ning shang shu ruan ke ji mei tong ling bi shan pei huo tu miao gu
sheng qu weng ran you xin chai hua pu teng rao mou ai mu nong si zhuo jian che lian mai chu
lou dou jing dang fei bu leng xi mi zong gui quan ying zang min gou bian luan sui diao sha
rong kou sang lang cong ao she chi cha kuang hui le ban lao pi man kan shuai piao zu zhi
qing di suo xuan ouyang sima shangguan zhuge dongfang huangfu situ xiahou murong
""")
_INITIAL = r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
_FINAL = (r"(?:iang|iong|uang|ang|eng|ing|ong|ian|iao|uai|uan|ue|ve|un|ai|ei|ao|ou|an|en|in|"
          r"ia|ie|iu|ua|uo|ui|er|a|o|e|i|u|v)")
_SYLLABLE = rf"{_INITIAL}{_FINAL}"
_GIVEN = re.compile(rf"(?:{_SYLLABLE})(?:['’-]?{_SYLLABLE}){{0,2}}")
_WORD = r"[A-Z][a-z]+|[A-Z]{2,}"
_PAIR = re.compile(rf"(?<![A-Za-z'’-])(?=(?P<a>{_WORD})[ \t]+(?P<b>[A-Z][a-z]*(?:['’-][a-z]+)?"
                   rf"|[A-Z]{{2,}})(?![A-Za-z'’-]))")


def _given(word: str) -> bool:
    low = word.lower()
    return _GIVEN.fullmatch(low) is not None and low not in N.common_words()


@recogniser("name-pinyin")
def _pinyin(text: str) -> list[_Cand]:
    """Surname + given name in either order; the given name is 1-3 pinyin syllables and no
    common English word ("He Said" is not a name; "Wang Wei" and "Wei Wang" are)."""
    out = []
    for m in _PAIR.finditer(text):
        a, b = m.group("a"), m.group("b")
        if (a.lower() in _SURNAMES and _given(b)) or (b.lower() in _SURNAMES and _given(a)
                                                      and a.lower() not in _SURNAMES):
            if a.lower() in N.common_words() and a.lower() not in _SURNAMES:
                continue
            out.append((m.start("a"), m.end("b"), "NAME", _PRIORITY["NAME"]))
    return out
