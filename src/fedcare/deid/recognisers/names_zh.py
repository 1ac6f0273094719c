"""Chinese person names (jieba's person tags, surname lists, cues)."""

from __future__ import annotations

import re

from fedcare.deid import _lexicon as L
from fedcare.deid import _names as N

from ._base import PRIORITY as _PRIORITY
from ._base import Cand as _Cand
from ._base import recogniser
from ._jieba import _jieba_tokens, _posseg

# ---------------------------------------------------------------- Chinese names

_ZH_TITLE = re.compile("|".join(sorted(L.CN_TITLES, key=len, reverse=True)))
_KIN_ZH = ("配偶|丈夫|妻子|老伴|爱人|老公|老婆|儿子|女儿|儿媳妇|儿媳|女婿|孙子|孙女|外孙|外孙女|"
           "侄子|侄女|"
           "外甥|外甥女|孙媳妇|孙媳|孙女婿|外孙媳|嫂子|弟媳|姐夫|妹夫|公公|婆婆|岳父|岳母|继父|继母|舅舅|"
           "姑姑|姨妈|叔叔|伯伯|表哥|表姐|表弟|表妹|堂哥|堂姐|照护者|主要照护者|护工|保姆|"
           "大姐|二姐|三姐|大哥|二哥|三哥|小妹|小弟|大嫂|二嫂|"
           "父亲|母亲|哥哥|姐姐|弟弟|妹妹|兄长|朋友|邻居|同事|之子|之女")
_ZH_NAME_LABEL = re.compile(
    r"(?P<label>姓名|患者姓名|病人姓名|患者|病人|患儿|家属|联系人|紧急联系人|监护人|代理人|主治医师|"
    r"主治医生|住院医师|主任医师|副主任医师|责任护士|管床医生|经治医师|上级医师|记录者|记录人|"
    r"签名|医师签名|医生签名|护士签名|报告医师|审核医师|检查医师|申请医生|送检医生|操作者|"
    r"手术者|术者|助手|麻醉医师|代诉人|陈述者|见证人|授权人|签字人|记录医师|记录医生|审核医生|"
    r"审核人|审核者|审核|审阅|复核人|复核|核对人|转诊医生|转诊医师|会诊医生|会诊医师|值班医生|"
    r"值班医师|主管医生|主管医师|接诊医生|接诊医师|管床医师|主刀医生|主刀|医生|医师|护士|大夫|主任|"
    r"就诊人|收件人|收货人|申请人|被保险人|投保人|受益人|核赔员|服务对象|接听人|交班护士|接班护士|"
    r"申请方|会诊专家|患儿姓名|学生姓名|学生|家长|监护人姓名|经办人|办理人|来访者|随访人|随访医生|"
    r"药师|就诊药师|社工|接收医生|接收医师|值班护士|访视护士|乡村医生|村医|"
    rf"{_KIN_ZH})(?P<sep>[：:\s]*)")
_STRONG_LABELS = {"姓名", "患者姓名", "病人姓名", "签名", "医师签名", "医生签名", "护士签名",
                  "就诊人", "收件人", "收货人", "被保险人", "投保人", "核赔员", "服务对象",
                  "接听人", "交班护士", "接班护士", "患儿姓名", "学生姓名", "经办人",
                  "接收医生", "接收医师",
                  "联系人", "紧急联系人", "记录者", "记录人", "见证人", "签字人", "代诉人",
                  "主治医师", "住院医师", "上级医师", "主任医师", "副主任医师", "经治医师",
                  "报告医师", "审核医师", "检查医师", "记录医师", "记录医生", "审核医生",
                  "审核人", "审核者", "复核人", "核对人", *_KIN_ZH.split("|")}
# words right after a name that confirm it (家属X电话, 科X主任意见, X（妻子）)
_ZH_NAME_NEXT = re.compile(r"电话|手机|联系|（|\(|意见|查房|会诊|表示|同意|签字|签名|知情|拒绝|"
                           r"已阅|核对|审核|陪同|陪护|代诉|诉|称|述")
# "X，男，" / "X，92岁" (demographics), "X/2023-03-05" (signature), "X表示理解" (consent)
_ZH_CUES = [
    re.compile(r"(?:^|(?<=[\n，,。；;：:\s]))(?P<n>[\u4e00-\u9fff]{2,7}?)(?:先生|女士)?[，,、]\s*"
               r"(?:男|女|\d{1,3}\s*(?:周岁|岁|歲))", re.M),
    # a ward's bed before the patient: "34床毛国庆（2410-05790）", "▲ 8床 张伟"
    re.compile(r"(?<![\d])\d{1,3}[ \t]?床[ \t]*(?P<n>[\u4e00-\u9fff]{2,4}?)(?=[（(，,、 \t]|$)",
               re.M),
    # a parent introducing themselves by the child: "我是宇轩的妈妈"
    re.compile(r"我是(?P<n>[\u4e00-\u9fff]{2,3}?)的?(?:妈妈|爸爸|家长|奶奶|爷爷|外婆|外公|姐姐|哥哥)"),
    # a signature: the name alone at the start of a line before a nurse's or doctor's
    # credential written in English ("彭詠詩 RN", "陈静 MD")
    re.compile(r"^[ \t]*(?P<n>[\u4e00-\u9fff]{2,4})[ \t]+(?:RN|MD|RPh|NP|MBBS|FRCS|"
               r"MRCP|PhD|RM|MSW)\b", re.M),
    re.compile(r"(?:^|(?<=\n))[ \t]*(?P<n>[\u4e00-\u9fff]{2,4})[ \t]*/", re.M),
    re.compile(r"(?:^|(?<=[\n。；;]))[ \t]*(?P<n>[\u4e00-\u9fff]{2,4})(?=表示|同意|签字|知情|拒绝|"
               r"要求|已阅)", re.M),
]
#: the cues that name a patient or a signer only with a surname: a ward's bed, a credential
_SURNAME_CUES = (_ZH_CUES[1], _ZH_CUES[3])
# characters after which a name may start even when jieba glued them to it (请程/主任)
_ZH_PARTICLES = frozenset("请经由向与和及给找问被让叫将把对跟挂约、，。；：:（()）/ \t\n")
# department words after which a name may start before a title (神经外科X主任)
_ZH_DEPT_END = frozenset("科室")
_ZH_KIN_WORDS = frozenset(_KIN_ZH.split("|")) | L.words(
    "爷爷 奶奶 姥姥 姥爷 叔叔 阿姨 舅舅 姑姑 伯伯 大爷 大妈 老人 病人 患者 家属")
_KIN_BY_LENGTH = sorted(_ZH_KIN_WORDS, key=len, reverse=True)
_ZH_NOT_NAMES = L.words("""
高血压 高血脂 高血糖 常规 明显 方案 方面 安静 安全 黄疸 周期 周围 周身 石膏 毛发 程度 江湖
金属 白细胞
白色 白天 张力 马上 牛奶 宫颈 谷丙 孙子 胡须 林业 邱疹 夏季 秦艽 于是 余量 杜冷丁 叶酸 苏醒 魏氏
吕氏 丁香 任何 沈默 姚黄 卢氏 姜黄 钟表 谭氏 陆续 汪洋 范围 金黄色 石头 廖氏 贾氏 夏天 韦氏 付费
方法 方式 白蛋白 孟鲁司特 熊胆 秦皮 江西 尹氏 薛氏 段落 雷诺 侯氏 龙胆 史上 陶瓷 黎明 贺氏 顾虑 毛细
郝氏 龚氏 邵氏 万分 钱款 严重 武汉 戴用 莫名 孔径 向前 汤药 常见 温度 温和 康复 施行 文件 文献 牛黄
葛根 邢台 安定 齐全 易于 乔氏 伍用 庞大 颜色 倪氏 庄重 聂氏 章节 鲁米那 岳母 翟氏 殷红 詹氏 申请
欧洲 耿直 关节 关注 兰州 焦虑 俞氏 左侧 左心 柳氮 甘油 甘露醇 祝福 包括 包块 宁可 尚可 符合 舒张
阮氏 柯氏 纪录 梅毒 童年 凌晨 毕业 单位 单纯 季节 裴氏 霍乱 涂片 成人 成分 苗条 谷氨酰 盛行 曲张
翁氏 冉氏 骆氏 蓝色 路径 游离 辛辣 靳氏 管理 管道 柴胡 蒙古 鲍氏 华法林 喻氏 祁氏 蒲公英 房颤 房间
滕氏 屈曲 饶氏 解释 解除 牟氏 艾滋 尤其 阳性 时间 时期 穆氏 农村 农药 司机 卓越 古代 吉祥 缪氏 简单
车祸 项目 连续 芦荟 麦粒 褚氏 娄氏 窦性 窦房 戚氏 景观 党员 宫缩 费用 卜氏 冷却 冷汗 晏氏 席位 卫生
米粒 柏氏 宗教 瞿氏 桂枝 全身 全血 佟氏 应用 应该 臧氏 闵氏 苟氏 邬氏 边缘 卞氏 姬氏 师傅 仇恨 栾氏
隋氏 商量 刁氏 沙丁 荣誉 巫氏 寇氏 桑叶 郎氏 丛氏 仲氏 虞氏 敖氏 巩固 佘氏 池塘 查体 查房 麻醉 麻木
苑氏 迟缓 迟发 邝氏 官方 封闭 谈话 匡氏 惠及 荆芥 乐观 冀氏 郁闷 胥氏 班级 储存 栗子 燕窝 楚氏 鄢氏
劳累 谌氏 奚氏 皮疹 皮肤 皮下 粟粒 蔺氏 楼层 盘氏 满意 位置 厉害 伊氏 仝氏 郜氏 阚氏 权衡 帅气 屠宰
豆类 朴素 练习 廉价 禹氏 井然 祖父 漆黑 巴比妥 丰富 支气管 支架 卿氏 狄氏 计划 计算 索引 宣教 晋升
初步 初次 心电图 时许 金星 高峰 方正 文明 安然 平安 建国 国庆
脑卒中 白班 夜班 中班 早班 晚班 常规班 白天班 夜间 宋体 黑体 楷体
谢谢 明白 手机 高一 高二 高三 初一 初二 初三 皮卡 左小腿 右小腿 小腿 管哈 段亚 米加 班主任 班
微信 支付宝 抖音 淘宝 性别 年龄 出生日期
""")


#: relatives (not 患者 nor 家属): at the start of a chat line they speak
_KIN_LABELS = frozenset(_KIN_ZH.split("|"))
#: the start of a line, or of a chat line after its time
_LINE_START = re.compile(r"(?:^|\n)[ \t]*(?:\[?\d{1,2}:\d{2}(?::\d{2})?\]?[ \t]*)?$")
#: a name then spaces, just before a label with no colon: the label is the name's title
#: ("上官明哲 主治医师  执业证书编码")
_TITLE_AFTER_NAME = re.compile(r"[\u4e00-\u9fff][ \t\u3000]+$")


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def _surname_len(text: str, pos: int) -> int:
    if text[pos:pos + 2] in L.CN_COMPOUND_SURNAMES:
        return 2
    return 1 if pos < len(text) and text[pos] in L.CN_SURNAMES else 0


def _title_at(text: str, pos: int) -> bool:
    return _ZH_TITLE.match(text, pos) is not None


_FUNCTION_TAGS = ("v", "a", "d", "p", "c", "u", "r", "m", "q", "f", "t", "y", "e", "o")


def _dict_word(word: str, strong: bool = False) -> bool:
    """A word jieba's dictionary knows as something other than a person name.

    After a strong label (姓名：, 签名：) only function words count: a name may also be
    listed as a place (沈庆/ns) or a noun.
    """
    tag = _posseg().dt.word_tag_tab.get(word)
    if tag is None or tag.startswith("nr"):
        return False
    return tag.startswith(_FUNCTION_TAGS) if strong else True


#: characters of drug and procedure names (transliterations, chemical suffixes): a name
#: candidate holding one, or followed by one, is part of a drug or a term (舒巴坦, 屈螺/酮)
_MEDICAL_CHARS = frozenset("坦酮醇唑霉汀啶嗪酯肽苷脲肟酚胺腔镜瘤癌炎症剂酸钠钾钙酶铵铋碘汞砷"
                           "缬螺炔雌孕洛替抗喷雾征")
# a dose right after a word: a drug ("美金刚 10mg", "福莫特罗 160/4.5μg"), never a person
_DOSE_AFTER = re.compile(r"\s*\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)?\s*(?:mg|μg|ug|mcg|g|ml|mL|IU|U|"
                         r"万U|万单位|单位|片|粒|支|喷|滴|袋)(?![A-Za-z])")
# a form of a drug right after a word: "甘精胰岛素", "地塞米松注射液", "复方甘草片" — a drug's name
_DRUG_FORM_AFTER = re.compile(r"胰岛素|激素|注射液|注射剂|胶囊|颗粒|口服液|乳膏|软膏|滴眼液|缓释片|"
                              r"控释片|肠溶片|分散片|气雾剂|栓")
# a drug's stem right after a word: 米诺|环素, 阿莫|西林, 左氧|氟沙星
_DRUG_STEM_AFTER = re.compile(r"环素|霉素|沙星|西林|他汀|洛尔|地平|普利|沙坦|替丁|拉唑|咪唑|硝唑|"
                              r"头孢|培南|韦|单抗")
# a test, a scale or a sign right after a word: 查虎红|平板凝集试验, Crawford|标准
_TEST_AFTER = re.compile(r"[湖山]?(?:平板|凝集|试验|实验|标准|分级|分型|评分|量表|综合征|染色)")
# left or right and a part of the body (左耳, 右胸, 左膝): a side, not a person named 左
_BODY_SIDE = re.compile(r"[左右][耳眼胸乳膝肩臂腿手足脚髋肺肾肝腹颈侧心房室踝腕肘背腰臀上下前后半"
                        r"移偏旋转"
                        r"颞额枕顶颊鼻唇舌指趾跟]")


def _han_run(text: str, start: int, limit: int) -> str:
    """Up to ``limit`` Han characters from ``start`` (stops at anything else)."""
    end = start
    while end < len(text) and end - start < limit and _is_han(text[end]):
        end += 1
    return text[start:end]


def _medical(text: str, start: int, end: int) -> bool:
    return (any(c in _MEDICAL_CHARS for c in text[start:end])
            or any(c in _MEDICAL_CHARS for c in _han_run(text, end, 3))
            or (start > 0 and text[start - 1] == "氏")
            or _DOSE_AFTER.match(text, end) is not None
            or _DRUG_FORM_AFTER.match(text, end) is not None
            or _DRUG_STEM_AFTER.match(text, end) is not None
            or _TEST_AFTER.match(text, end) is not None
            or _BODY_SIDE.match(text, start) is not None)


#: characters that never start a name written with an unlisted surname: function words
_NOT_NAME_START = frozenset("很不没也都就还再已可要会能请让把被对从在是有的了与及或但而且"
                             "人先太真挺蛮刚才又只这那您你我他她它")
#: jieba's dictionary lists some common words as person names (毛巾/nr, 安抚/nr, 康复/nr):
#: from this frequency on, a two-character one found only by its tag is taken as a word
#: ("她的毛巾碗筷", "陪伴安抚后", "可短暂被安抚")
_COMMON_NR_FREQ = 100
#: characters that often follow a person's name in a note (来, 说, 今晨, 在, 的 …)
_NAME_FOLLOWERS = frozenset("来说去在是的和与诉述称今昨已也都就要会让给把被对向从到还又再很等及或"
                            "同陪打问告电帮找于因现自经由曾为")


def _common_nr_word(text: str, start: int, end: int) -> bool:
    """A frequent dictionary word tagged as a name (毛巾, 安抚, 康复) read as a word: the
    text goes on after it as a word does ("毛巾碗筷", "安抚后", "康复训练"), not as after
    a name (李娜来院, 张宁今晨, 王平，, 李强医生); a label, a title or a cue still makes it a
    name."""
    word = text[start:end]
    if len(word) != 2:
        return False
    dt = _posseg().dt
    tag = dt.word_tag_tab.get(word)
    if tag is None or not tag.startswith("nr") or dt.tokenizer.FREQ.get(word, 0) < _COMMON_NR_FREQ:
        return False
    if _KIN_LABEL.fullmatch(word):
        return True  # 祖母: a relative, not a name
    if end < len(text) and _is_han(text[end]):  # "毛巾碗筷", "安抚后" (not "李娜来院")
        return text[end] not in _NAME_FOLLOWERS and not _title_at(text, end) \
            and _ZH_NAME_NEXT.match(text, end) is None
    # before a digit, a comma or a space: a name only at a boundary (a line's start, a colon,
    # a comma, a bracket), not glued to a word or a particle ("可安抚，", "被安抚，", "起张口、",
    # "：屈膝120°")
    if end < len(text) and text[end].isdigit():
        return True
    return start > 0 and text[start - 1] not in "：:，,、\n \t（(\u3000"


#: Cantonese function characters (喺 at, 咗 done, 嘅 of, 佢 he/she): never in a name
_CANTONESE = frozenset("喺咗嘅佢唔冇啲嘢噉咁嗰睇嚟攞俾畀咩乜嘥")


def _plain_word_at(text: str, pos: int) -> bool:
    """Whether the two characters at ``pos`` are a dictionary word that is no name nor
    place (夜班/n, 驾车/v, 交代/v; not 阿苏/ns, 扎西/nr, nor 第五/m, a compound surname too)."""
    tag = _posseg().dt.word_tag_tab.get(text[pos:pos + 2])
    return tag is not None and not tag.startswith(("nr", "ns", "nz", "m"))


def _bad_name(name: str, strong: bool = False) -> bool:
    return (name in _ZH_NOT_NAMES or any(c in _CANTONESE for c in name) or name.endswith("色")
            or name in _ZH_KIN_WORDS or name.endswith("氏")
            or _dict_word(name, strong) or any(k in name for k in ("医院", "科室", "病房")))


def _given_ok(chunk: str) -> bool:
    return all(_is_han(c) and c not in L.CN_NAME_STOPWORDS for c in chunk)


def _confirmed_end(text: str, end: int) -> bool:
    """A name may end here: end of text, a non-Han character, a title or a confirming word."""
    return (end == len(text) or not _is_han(text[end]) or _title_at(text, end)
            or _ZH_NAME_NEXT.match(text, end) is not None)


def _name_at(text: str, pos: int, bounds: set[int], nr_starts: set[int],
             strong: bool, separated: bool = False) -> tuple[int, int] | None:
    """The name starting at ``pos`` (after a label): surname plus one or two characters.

    ``strong``: a label that introduces a name (姓名：, 签名：, kinship words);
    ``separated``: a weaker label followed by a colon or space (医生：, 审核 ), after which
    an unlisted surname is taken when nothing Han follows the name.
    """
    if pos >= len(text) or not _is_han(text[pos]):
        return None
    if text[pos] in "小老" and pos + 1 < len(text) and text[pos + 1] in L.CN_SURNAMES:
        return None  # 小王, 老李: the familiar-form recogniser's
    label = _ZH_NAME_LABEL.match(text, pos)
    if label and label.group("label") in _ZH_KIN_WORDS | _STRONG_LABELS:
        return None  # "联系人：丈夫谢永福": the name follows the next label
    s_len = _surname_len(text, pos)
    if s_len == 0:
        if text[pos] in L.CN_NAME_STOPWORDS:
            return None
        if not (strong or pos in nr_starts):
            # an unlisted surname after a weak label: only when a confirming word follows
            # the 2-4 characters (家属X电话, 家属X（妻子）); never a function word (医生：很好)
            # nor the next field's label (主任　　护理记录：)
            if text[pos] in _NOT_NAME_START or _plain_word_at(text, pos):
                return None
            for end in (pos + 4, pos + 3, pos + 2):
                if text[end:end + 1] in ("：", ":"):
                    continue
                if (end <= len(text) and _given_ok(text[pos + 1:end])
                        and ((end < len(text) and _ZH_NAME_NEXT.match(text, end))
                             or (separated and (end == len(text) or not _is_han(text[end]))))
                        and not any(_title_at(text, i) for i in range(pos + 1, end))
                        and not _bad_name(text[pos:end])):
                    return pos, end
            return None
        # an unlisted (rare or compound) surname: the longest run of 2-4 characters that
        # ends at a word boundary
        best = None
        for end in range(pos + 2, min(pos + 4, len(text)) + 1):
            if not _given_ok(text[pos + 1:end]) or any(_title_at(text, i)
                                                        for i in range(pos + 1, end)):
                break
            if end in bounds or _confirmed_end(text, end):
                best = end
        if best is None or _bad_name(text[pos:best], strong) or \
                text[best:best + 1] in _ZH_DEPT_END:
            return None
        if not separated and _plain_word_at(text, pos):
            return None  # 丈夫夜班多, 儿子驾车, 向父亲交代: a word glued to the label
        return pos, best
    best = None
    for given in (1, 2):
        end = pos + s_len + given
        if end > len(text):
            break
        chunk = text[pos + s_len:end]
        if not _given_ok(chunk):
            break
        if any(_title_at(text, i) for i in range(pos + s_len, end)):
            break
        if end in bounds or end == len(text) or not _is_han(text[end]) or _title_at(text, end):
            best = end
    if best is None and _title_at(text, pos + s_len):
        best = pos + s_len  # 王主任: a surname with a title
    if best is None:
        end = pos + s_len + 1
        if end <= len(text) and _given_ok(text[pos + s_len:end]):
            best = end
    if best is None or text[best:best + 1] in _ZH_DEPT_END:  # 审核人：质控科
        return None
    # a listed surname whose name is also a dictionary word (何国/r, 王国/n): kept after a
    # strong label when nothing Han follows, or when a confirming word follows (王国（女）)
    if best - pos > s_len and _title_at(text, best) and _plain_word_at(text, pos) and \
            text[pos:best] not in L.CN_COMPOUND_SURNAMES:
        return None  # 联系人：车间主任陶建新: a workshop, not a name; the name follows
    isolated = best == len(text) or not _is_han(text[best])
    confirmed = (strong and isolated) or (best < len(text) and _ZH_NAME_NEXT.match(text, best))
    if best - pos > s_len and _bad_name(text[pos:best], strong) and not (
            confirmed and text[pos:best] not in _ZH_NOT_NAMES
            and text[pos:best] not in _ZH_KIN_WORDS):
        return None
    return pos, best


def _name_before(text: str, end: int, bounds: set[int], soft: set[int]) -> tuple[int, int] | None:
    """The name ending at ``end`` (just before a title such as 医生 or 主任)."""
    best = None
    for length in (1, 2, 3, 4):
        start = end - length
        if start < 0:
            break
        chunk = text[start:end]
        if not all(_is_han(c) for c in chunk):
            break
        s_len = _surname_len(text, start)
        after_particle = start in soft or (start > 0 and text[start - 1] in _ZH_DEPT_END)
        if s_len == 0:
            if not after_particle or text[start] in L.CN_NAME_STOPWORDS or (
                    length >= 3 and _plain_word_at(text, start)):
                continue  # not 请/联络理赔/主任: a word, not an unlisted surname
            s_len = 1 if length < 4 else 2  # 4 characters: a compound surname (公孙/x/x)
        double = (length == 4 and s_len == 1 and text[start + 1] in L.CN_SURNAMES
                  and text.startswith(("女士", "太太", "夫人"), end))
        if (length > s_len + 2 and not double) or not (start in bounds or after_particle):
            continue
        if not _given_ok(chunk[s_len:]) or (length > s_len and _bad_name(chunk)):
            continue
        if length == s_len and chunk in _ZH_KIN_WORDS:
            continue
        if chunk in ("任", "兼", "升") and start > 0 and _is_han(text[start - 1]) \
                and text[start - 1] not in _ZH_PARTICLES:
            continue  # 公司任厂长, 兼主任: "serves as", not the surname 任
        best = (start, end)
    return best


@recogniser("name-zh", ("zh",))
def _zh_names(text: str) -> list[_Cand]:
    tokens = _jieba_tokens(text)
    soft = {i for i in range(len(text) + 1) if i == 0 or text[i - 1] in _ZH_PARTICLES}
    bounds = {s for s, _, _ in tokens} | {s + len(w) for s, w, _ in tokens} | soft
    nr_starts = {s for s, _, f in tokens if f.startswith("nr")}
    found: list[tuple[int, int]] = []
    for m in _ZH_NAME_LABEL.finditer(text):
        if m.group("label") in _KIN_LABELS and re.search("[:：]", m.group("sep")) and \
                _LINE_START.search(text, max(0, m.start() - 12), m.start()):
            continue  # "22:47 大姐：医生说...": a relative speaking in a chat, not a label
        if not re.search("[:：]", m.group("sep")) and _ZH_TITLE.fullmatch(m.group("label")) and \
                _TITLE_AFTER_NAME.search(text, max(0, m.start() - 8), m.start()):
            continue  # 欧阳靖　主治医师　执业证书: a title after a name, not a label
        span = _name_at(text, m.end(), bounds, nr_starts, m.group("label") in _STRONG_LABELS,
                        separated=bool(m.group("sep")))
        if span:
            found.append(span)
    for m in _ZH_TITLE.finditer(text):
        span = _name_before(text, m.start(), bounds, soft)
        if span:
            found.append(span)
    for pattern in _ZH_CUES:
        for m in pattern.finditer(text):
            name = m.group("n")
            start = m.start("n")
            # drop a label glued in front ("患者张伟，男")
            label = _ZH_NAME_LABEL.match(name)
            if label and label.end() < len(name):
                start += label.end()
                name = name[label.end():]
                if not _surname_len(text, start) and _dict_word(name):
                    continue  # 患者知情同意: a word after the label, not a name
            if _ZH_TITLE.fullmatch(name) or _ZH_NAME_LABEL.fullmatch(name):
                continue  # 护士签字：, 医生签名: a role before the cue, not a name
            if pattern in _SURNAME_CUES and not (_surname_len(text, start)
                                                 or text[start] in _TRAD_SURNAMES):
                continue  # 12床 腹痛, 凝血四项 PT: no surname, no name
            if 2 <= len(name) <= 4 and _given_ok(name[1:]) and not _bad_name(name, True) \
                    and name[-1] not in "科室院部区市县省":
                found.append((start, start + len(name)))
    # jieba person names (nr), merging a split surname + given name (周/海燕, 笪/晓静)
    i = 0
    while i < len(tokens):
        start, word, flag = tokens[i]
        if not flag.startswith("nr"):
            i += 1
            continue
        end = start + len(word)
        j = i + 1
        while (j < len(tokens) and tokens[j][0] == end and tokens[j][2].startswith("nr")
               and end - start + len(tokens[j][1]) <= 4 and len(tokens[j - 1][1]) == 1):
            end += len(tokens[j][1])
            j += 1
        # a particle glued in front by jieba (经林怡): start after it
        if text[start] in _ZH_PARTICLES and end - start >= 3:
            start += 1
        # a kinship word glued in front (孙媳郑/美玲): start after it, take the next name part
        kin = next((k for k in _KIN_BY_LENGTH if text.startswith(k, start)), None)
        if kin and end - start > len(kin):
            start += len(kin)
            if j < len(tokens) and tokens[j][0] == end and tokens[j][2].startswith("nr") \
                    and end - start + len(tokens[j][1]) <= 4:
                end += len(tokens[j][1])
                j += 1
        name = text[start:end]
        merged = j - i > 1
        if not merged and _common_nr_word(text, start, end):
            i = j
            continue
        s_len = _surname_len(text, start)
        if (2 <= len(name) <= 4 and all(_is_han(c) for c in name) and not _bad_name(name)
                and _given_ok(name[max(s_len, 1):]) and not _title_at(text, start)
                and (s_len or merged)):
            trimmed = _ZH_TITLE.search(name, 1)
            end = start + trimmed.start() if trimmed else end
            if end - start >= 2 or _title_at(text, end):
                found.append((start, end))
        i = j
    found = [(s, e) for s, e in found
             if not _medical(text, s, e) and not text.startswith("班主任", s)]
    found = [(s, e) for s, e in (_whole_given_name(text, s, e) for s, e in found)
             if not _medical(text, s, e)]
    found = [_dotted_whole(text, *_compound_whole(text, s, e)) for s, e in found]
    found += _propagate_zh(text, found)
    return [(s, e, "NAME", _PRIORITY["NAME"]) for s, e in found]


_NAME_CLOSE = frozenset("）)（(，,、。；;：: \t\n\u3000")
_NOT_GIVEN_LAST = frozenset("说是在的了和与也都就去来要会让给把被对向从到还又已再很等及或")


def _whole_given_name(text: str, start: int, end: int) -> tuple[int, int]:
    """A name cut one character short by the segmenter (李德|福）, 闻人|琪（) taken whole:
    one more Han character when a bracket or punctuation closes it."""
    if text.startswith("某某", end) or (text.startswith("某", end) and end - start == 1):
        return start, end + (2 if text.startswith("某某", end) else 1)  # 覃某某, 李某
    if (end - start in (2, 3) and end + 1 < len(text) and _is_han(text[end])
            and text[end] not in _NOT_GIVEN_LAST and text[end + 1] in _NAME_CLOSE):
        return start, end + 1
    return start, end


def _compound_whole(text: str, start: int, end: int) -> tuple[int, int]:
    """A compound surname found alone (皇甫|立新, 上官|可欣: the segmenter tags only the
    surname) taken with its one- or two-character given name when a boundary follows it
    (end of line, punctuation, a title or a confirming word)."""
    if text[start:end] not in L.CN_COMPOUND_SURNAMES or _title_at(text, end):
        return start, end
    for given in (2, 1):
        stop = end + given
        if (stop <= len(text) and _given_ok(text[end:stop])
                and not any(_title_at(text, i) for i in range(end, stop))
                and text[stop - 1] not in _NOT_GIVEN_LAST and _confirmed_end(text, stop)):
            return start, stop
    return start, end


_NAME_DOT = "·•‧・"


def _dotted_whole(text: str, start: int, end: int) -> tuple[int, int]:
    """A transliterated name whose parts are joined by a middle dot (买买提·艾力,
    古丽娜尔·吐尔逊) taken whole when one part was found: the Han characters up to the dot
    and up to four on its other side (stopping at anything else)."""
    if end < len(text) and (text[end] in _NAME_DOT or (end + 1 < len(text) and _is_han(
            text[end]) and text[end + 1] in _NAME_DOT)):
        dot = end if text[end] in _NAME_DOT else end + 1
        tail = _han_run(text, dot + 1, 4)
        if tail:
            end = dot + 1 + len(tail)
    if start > 0 and text[start - 1] in _NAME_DOT:
        head = start - 1
        while head > 0 and start - 1 - head < 4 and _is_han(text[head - 1]):
            head -= 1
        if head < start - 1:
            start = head
    return start, end


def _propagate_zh(text: str, found: list[tuple[int, int]]) -> list[tuple[int, int]]:
    names = {text[s:e] for s, e in found if e - s >= 2}
    out = []
    for name in names:  # str.find: no pattern to compile per name
        at = text.find(name)
        while at >= 0:
            out.append((at, at + len(name)))
            at = text.find(name, at + 1)
    return out




# ---------------------------------------------------------------- 小王, 老李, 阿强

_FAMILIAR = re.compile(r"(?P<n>[小老](?P<s>[\u4e00-\u9fff])|阿(?P<g>[\u4e00-\u9fff]))")
_FAMILIAR_NEXT = frozenset("（(，,"
                           "说讲来去在帮给陪送打问告值负电和与是的也今昨已又还就都会要让叫跟带找"
                           "，。、；：:,.!?！？)）\n\t \u3000")
_FAMILIAR_WORDS = L.words("""
小于 小时 小便 老公 老师 小米 小麦 老家 老年 小心 小孩 小儿 老人 小姐 老是 老伴 小区 小组 小叶
小石 小方 小白 小熊 小马 老马 小结 小量 小剂 小片 小型 小便 老化 老板 老婆 老乡 老大 老二
小学 小腿 小腹 小肠 小脑 小块 小口 小儿 小灶 小菜 小吃 阿姨 阿婆 阿公 阿爸 阿妈 阿哥 阿姐 阿弟
阿妹 阿伯 阿叔 阿婶 阿舅 阿嫂 阿胶 阿片 阿托 阿司 阿莫 阿奇 阿昔 阿卡 阿德 阿仑 阿法 阿糖
阿达 阿替 阿米 阿普 阿扎 阿立 阿尔
阿爷 阿嫲 阿嬷 阿嬤 阿奶 阿爹 阿娘 阿仔 阿女 阿囡 阿姑 阿婆 阿太 阿祖
""")


# reduplicated children's names before a kinship word: 乐乐妈妈, 豆豆爸爸
_REDUP = re.compile(r"(?P<n>([\u4e00-\u9fff])\2)(?=妈妈|爸爸|妈|爸|奶奶|爷爷|姥姥|姥爷|外婆|外公|"
                    r"家长|的妈妈|的爸爸)")
# Hong Kong / Macau romanised names: "SZETO Ka Ho", "CHAN Tai Man", "WONG Siu-ming"
_HK_SURNAMES = L.words("""
SZETO CHAN WONG LEUNG CHEUNG LAU LEE HO NG TSANG YEUNG CHOW LAM LO KWOK TAM FUNG TANG CHIU
MAK YIP CHOI KWAN LAI SO TSE YU POON CHING LUI KONG TO HUI AU CHU CHENG MA LI TSUI WAN
KAN LAW LOK LUK MOK SIU SIN SUEN SUNG TSOI WAI WU YAU YEUNG YIU CHAU CHIN FONG HUNG KO KU
""")
#: mainland (pinyin) and Macau romanisations, used in Chinese notes only ("GU Exam", "FU Clinic"
#: in an English note are no names)
_PINYIN_SURNAMES = _HK_SURNAMES | L.words("""
LIU ZHANG WANG CHEN YANG ZHAO HUANG ZHOU XU SUN HU ZHU GAO LIN HE GUO LUO LIANG SONG ZHENG
XIE HAN FENG DONG XIAO CAO YUAN DENG FU SHEN ZENG PENG LU SU JIANG CAI JIA DING WEI XUE YE
YAN PAN DU DAI XIA ZHONG TIAN REN FAN FANG SHI YAO TAN LIAO ZOU XIONG JIN HAO KONG BAI CUI
KANG MAO QIU QIN GU HOU SHAO MENG LONG DUAN LEI QIAN YIN QIAO GONG WEN
CHEONG LEONG IEONG KUOK SOU IAO LOU CHOI VONG HOI TAM SIO
""")
_HK_NAME = re.compile(r"(?<![A-Za-z])(?P<s>[A-Z]{2,}(?:-[A-Z]{2,})?),?\s+[A-Z][a-z]{1,5}"
                      r"(?:[\s-][A-Z]?[a-z]{1,5}){0,2}(?![A-Za-z])")


_MIXED_NAME = re.compile(r"(?P<n>(?<![A-Za-z])(?P<g>[A-Z][a-z]{1,10})[ ]?(?P<s>[\u4e00-\u9fff])"
                         r"|阿(?P<a>[A-Z][a-z]{1,10})(?![A-Za-z]))")
# a parent speaking in a family chat, named after the child: "糖糖妈-小雯：", "糖糖爸 阿斌：",
# "豆豆妈："
_ZH_PARENT_SPEAKER = re.compile(r"^[ \t]*(?:[\[【]?\d{1,2}:\d{2}[\]】]?[ \t]*)?"
                                r"(?P<n>(?P<c>[\u4e00-\u9fff]{1,3}?)(?:妈妈|爸爸|妈|爸|"
                                r"奶奶|爷爷|外婆|外公)(?:[-－—·• ][\u4e00-\u9fffA-Za-z]{1,8})?)"
                                r"[ \t]*[：:]", re.M)
#: what may stand before 妈/爸 in a chat label without being the child's name (孩子妈, 宝宝爸)
_NOT_CHILD = L.words("孩子 宝宝 小孩 娃娃 儿子 女儿 大宝 二宝 老大 老二 我家 他家 她家 咱家 "
                     "我 你 他 她 老 小 大 二 三 四 五 亲 后 继 干 公 婆 岳 舅 姨 姑 叔 伯 "
                     "孩 娃 宝 幺 细 满 表 堂")
# a relative speaking by an English name: "小姨Coco：", "表姐 Mandy："
_ZH_KIN_LATIN_SPEAKER = re.compile(r"^[ \t]*(?:[大二三小老]?(?:姨|姑|舅|叔|姐|哥|妹|弟)|表姐|表哥|"
                                   r"表妹|表弟|堂姐|堂哥|嫂子|姐夫)[ \t]?(?P<n>[A-Z][a-z]{1,12})"
                                   r"[ \t]*[：:]", re.M)
# a romanised Cantonese name in title case or after initials: "Cheong Ka Man", "Lam Chi Fai",
# "KY Wong" (the surname must be a listed one)
_HK_TITLE_CASE = re.compile(r"(?<![A-Za-z])(?:(?P<s>[A-Z][a-z]{1,6})[ ]+[A-Z][a-z]{1,4}"
                            r"(?:[ -][A-Z]?[a-z]{1,4})|[A-Z]{2}[ ]+(?P<t>[A-Z][a-z]{1,6}))"
                            r"(?![A-Za-z])")
#: initials, then the name in Chinese in brackets: "pt: WZX (王梓轩)"
_INITIALS_THEN_NAME = re.compile(r"(?<![A-Za-z])(?<![A-Za-z][ ,])(?P<i>[A-Z]{2,4})[ ]?[（(]"
                                 r"(?P<f>[\u4e00-\u9fff]{2,4})[）)]")
#: a doubled (child's) name before its full name in brackets or before a verb of speech:
#: "浩浩（雷浩然）", "浩浩说想吃肉夹馍"
_DOUBLED_NAME = re.compile(r"(?P<n>([\u4e00-\u9fff])\2)"
                           r"(?=[（(][\u4e00-\u9fff]{2,4}[）)]|说|讲|喊|哭|问)")
#: doubled words that speak or are spoken of and are no names
_DOUBLED_WORDS = L.words("太太 婆婆 公公 奶奶 爷爷 姥姥 舅舅 叔叔 伯伯 姑姑 嫂嫂 娃娃 宝宝 "
                         "人人 大大 老老 小小 乖乖 偷偷 悄悄 默默 连连 频频 反反 一一")
#: a found full name (surname and two characters) whose given name is said alone, to
#: address the person at the start of a message: "舅妈：小鱼 复诊那天…"
_VOCATIVE_AT = re.compile(r"[：:][ \t]*$")


def _vocatives(text: str) -> list[tuple[int, int]]:
    """Given names used to address someone (江小鱼 -> "：小鱼 复诊那天"), for the three-character
    names of chat speakers ("江小鱼：") with a listed surname."""
    out = []
    speakers = {m.group("n") for m in _ZH_COLON_SPEAKER.finditer(text)
                if len(m.group("n")) == 3 and m.group("n")[0] in L.CN_SURNAMES}
    for name in speakers:
        given = name[1:]
        if _ZH_TITLE.fullmatch(given) or _ZH_NAME_LABEL.fullmatch(given):
            continue  # 王主任：… is a title, not 王 and a given name
        at = text.find(given)
        while at >= 0:
            end = at + len(given)
            if _VOCATIVE_AT.search(text, max(0, at - 3), at) and \
                    (end == len(text) or text[end] in " \t，,！!。?？"):
                out.append((at, end))
            at = text.find(given, end)
    return out


_NOT_HK_NAME = re.compile(r"Hong Kong|Kowloon|\b(?:Ltd|Co|Inc|Rd|St|Ave|Road|Street|Bay|Hill|"
                          r"Park)\b")
# an English title before a romanised name inside a Chinese note: "Dr. Tsang", "Mr Lam"
_LATIN_TITLE = re.compile(r"(?<![A-Za-z])(?P<n>(?:Dr|Mr|Mrs|Ms|Miss|Prof|Dra)\.?[ \t]+"
                          r"[A-Z][a-z]+(?:[ -][A-Za-z][a-z]+){0,2})(?![A-Za-z])")
#: traditional forms of common surnames (鄭, 陳, 張, 黃, 劉, 吳, 趙, 楊, 葉, 蕭, 羅, 許, 馮)
_TRAD_SURNAMES = frozenset("鄭陳張黃劉吳趙楊葉蕭羅許馮鍾盧蔣謝韓魏戴鄧龔嚴錢孫")


@recogniser("name-zh-more", ("zh", "en"))
def _more_names(text: str) -> list[_Cand]:
    """Reduplicated children's names (乐乐妈妈) and Hong Kong romanised names."""
    out = [(m.start("n"), m.end("n"), "NAME", _PRIORITY["NAME"]) for m in _REDUP.finditer(text)
           if m.group("n") not in _REDUP_WORDS]
    for m in _HK_NAME.finditer(text):
        if m.group("s").split("-")[0] in _HK_SURNAMES:
            out.append((m.start(), m.end(), "NAME", _PRIORITY["NAME"]))
    speakers = [m for m in _ZH_SPEAKER.finditer(text)
                if m.group("n") not in _ZH_NOT_NAMES and not _zh_role(m.group("n"))]
    if len({m.group("n") for m in speakers}) >= 2 or len(speakers) >= 3:
        spans = [m.span("n") for m in speakers]
        out += [(s, e, "NAME", _PRIORITY["NAME_STRONG"]) for s, e in spans]
        # every later mention of a speaker ("大伟说")
        out += [(s, e, "NAME", _PRIORITY["NAME"]) for s, e in _propagate_zh(text, spans)]
    out += [(m.start("n"), m.end("n"), "NAME", _PRIORITY["NAME_STRONG"])
            for m in _NICKNAME.finditer(text)]
    # an English given name with a Chinese surname (Cindy周, Winnie鄭), 阿 with an English
    # name (阿Ken)
    for m in _MIXED_NAME.finditer(text):
        given = (m.group("g") or m.group("a") or "").lower()
        if m.group("s") is not None and m.end() < len(text) and _is_han(text[m.end()]) \
                and not _title_at(text, m.end()):
            continue  # "Cindy周" alone or before a title ("Jenny 何护士"), not "Amy王芳"
        if given in N.given_names() and (m.group("a") or m.group("s") in L.CN_SURNAMES
                                         or m.group("s") in _TRAD_SURNAMES):
            out.append((m.start("n"), m.end("n"), "NAME", _PRIORITY["NAME_STRONG"]))
    colon = _zh_colon_speakers(text)
    out += [(s, e, "NAME", _PRIORITY["NAME_STRONG"]) for s, e in colon]
    out += [(s, e, "NAME", _PRIORITY["NAME"]) for s, e in _propagate_zh(text, colon)]
    return out


@recogniser("name-zh-chat", ("zh",))
def _chat_and_latin_names(text: str) -> list[_Cand]:
    """In a Chinese note: parents speaking in a family chat by their child's name
    (糖糖妈-小雯：) and the child elsewhere; a relative speaking by an English name
    (小姨Coco：); an English title before a romanised name (Dr. Tsang, Miss Yip)."""
    out: list[_Cand] = []
    parents = [m for m in _ZH_PARENT_SPEAKER.finditer(text)
               if m.group("c") not in _NOT_CHILD and m.group("c") not in _ZH_KIN_WORDS
               and not _KIN_LABEL.fullmatch(m.group("c"))]
    if len(parents) >= 2:
        out += [(m.start("n"), m.end("n"), "NAME", _PRIORITY["NAME_STRONG"]) for m in parents]
        # the child, named in the label, elsewhere in the chat ("带糖糖去")
        children = [m.span("c") for m in parents]
        out += [(s, e, "NAME", _PRIORITY["NAME"]) for s, e in _propagate_zh(text, children)]
    for pattern in (_ZH_KIN_LATIN_SPEAKER, _LATIN_TITLE):
        out += [(m.start("n"), m.end("n"), "NAME", _PRIORITY["NAME_STRONG"])
                for m in pattern.finditer(text)]
    for m in _INITIALS_THEN_NAME.finditer(text):
        full = m.group("f")
        if _bad_name(full) or _medical(text, m.start("f"), m.end("f")) or \
                _BODY_SIDE.match(full) or _plain_word_at(text, m.start("f")):
            continue  # WBC（白细胞）, TG（甘油三酯）, CT（左侧）: a gloss, not a name
        if full[0] in L.CN_SURNAMES or full[:2] in L.CN_COMPOUND_SURNAMES:
            out.append((m.start("i"), m.end("i"), "NAME", _PRIORITY["NAME_STRONG"]))
    doubled = [m for m in _DOUBLED_NAME.finditer(text)
               if m.group("n") not in _REDUP_WORDS and m.group("n") not in _ZH_KIN_WORDS
               and not _KIN_LABEL.fullmatch(m.group("n"))
               and m.group("n") not in _DOUBLED_WORDS]
    out += [(m.start("n"), m.end("n"), "NAME", _PRIORITY["NAME"]) for m in doubled]
    out += [(s, e, "NAME", _PRIORITY["NAME"])
            for s, e in _propagate_zh(text, [m.span("n") for m in doubled])]
    out += [(s, e, "NAME", _PRIORITY["NAME"]) for s, e in _vocatives(text)]
    for m in _HK_NAME.finditer(text):
        if m.group("s").split("-")[0] in _PINYIN_SURNAMES - _HK_SURNAMES:
            out.append((m.start(), m.end(), "NAME", _PRIORITY["NAME"]))
    for m in _HK_TITLE_CASE.finditer(text):
        if (m.group("s") or m.group("t") or "").upper() in _PINYIN_SURNAMES and \
                not _NOT_HK_NAME.search(m.group(0)):
            out.append((m.start(), m.end(), "NAME", _PRIORITY["NAME"]))
    return out


# a chat line "大姐欧阳敏：...", "阿强：...", "刘文博：...": a kinship or rank word before
# the speaker's name is left out
_ZH_COLON_SPEAKER = re.compile(
    r"^[ \t]*(?:(?P<kin>大姐|二姐|三姐|大哥|二哥|三哥|大妹|二妹|三妹|小妹|小弟|大弟|二弟|三弟|"
    r"小舅|大舅|"
    r"二舅|小姨|大姨|二姨|小姑|大姑|孙子|孙女|外孙|外孙女|儿子|女儿|女婿|儿媳|侄子|侄女|外甥|外甥女|"
    r"表哥|表姐|表弟|表妹|堂哥|堂姐|堂弟|堂妹|老公|老婆|爸|妈|爷爷|奶奶|叔叔|阿姨|舅舅|姑姑|姐夫|"
    r"嫂子|妹夫|弟媳))?(?P<n>[\u4e00-\u9fff]{2,4})(?:（[^）\n]{1,8}）)?[：:]", re.M)


def _zh_colon_speakers(text: str) -> list[tuple[int, int]]:
    """Speakers of a chat written ``X：message``: names (a listed surname, 小/老/阿 + a
    character, or after a kinship word) that each start two or more lines, two or more of
    them; field labels of a note (诊断：, 处理：) are not names."""
    found: dict[str, list[tuple[int, int]]] = {}
    for m in _ZH_COLON_SPEAKER.finditer(text):
        name = m.group("n")
        if m.group("kin") is None:
            # 小芳, 老覃, 阿强, 大伟, 强哥, 芳姐: a familiar form of a name
            familiar = len(name) == 2 and (name[0] in "小老阿大" or name[1] in "哥姐" or (
                name[0] == name[1] and name not in _REDUP_WORDS))  # 婷婷：, 豆豆：
            if not (familiar or _surname_len(text, m.start("n"))) or len(name) > 3:
                continue
        doubled = len(name) == 2 and name[0] == name[1]  # 婷婷 is a word (z) and a name
        if (name in _ZH_NOT_NAMES or name in _ZH_KIN_WORDS or (_dict_word(name) and not doubled)
                or _ZH_NAME_LABEL.fullmatch(name) or not _given_ok(name[1:])):
            continue
        found.setdefault(name, []).append(m.span("n"))
    repeated = {k: v for k, v in found.items() if len(v) >= 2}
    # family members written by their kinship alone ("二姐: ", "【老爸】:") speak too
    kin_only: dict[str, int] = {}
    for m in _ZH_KIN_SPEAKER.finditer(text):
        kin_only[m.group("k")] = kin_only.get(m.group("k"), 0) + 1
    if len(repeated) + sum(1 for c in kin_only.values() if c >= 2) < 2 or not repeated:
        return []
    return [span for spans in repeated.values() for span in spans]


_ZH_KIN_SPEAKER = re.compile(r"^[ \t]*[【\[]?(?P<k>[大二三四小老]?(?:姐|哥|妹|弟|爸|妈|姨|舅|姑|叔|"
                             r"婶|嫂)|老爸|老妈|爸爸|妈妈|爷爷|奶奶|外婆|外公|姥姥|姥爷|[\u4e00-\u9fff]{1,2}"
                             r"(?:妈妈|爸爸))[】\]]?[ \t]*[：:]", re.M)


# a kinship word as a chat speaker (大女, 细佬, 二家姐, 阿嫲, 孙女, 老豆): a role, not a name
_KIN_LABEL = re.compile(r"[大二三四五六细小老阿]?(?:家姐|姐|哥|妹|弟|佬|女|仔|囡|爸|妈|爷|嫲|婆|公|"
                        r"姨|舅|姑|叔|婶|嫂|豆|母)|(?:孙|外孙|曾孙|侄|外甥|契)(?:女|仔|子)|"
                        r"(?:曾|外曾)?(?:祖母|祖父)")


def _zh_role(label: str) -> bool:
    """A chat speaker label that names a role or a kinship, not a person (家属, 助理,
    大女, 细佬)."""
    return (label in _ZH_KIN_WORDS or bool(_KIN_LABEL.fullmatch(label))
            or bool(_ZH_NAME_LABEL.fullmatch(label))
            or (bool(re.fullmatch(r"[\u4e00-\u9fff]+", label)) and _dict_word(label)))


# a chat transcript: the speaker's name alone on a line (or before a colon) with a time
# ("大伟 09:15", "阿珍 2024-03-05 09:12", "小妹 09:20：")
_ZH_SPEAKER = re.compile(r"^[ \t]*(?P<n>[\u4e00-\u9fff]{2,4}|[A-Za-z][A-Za-z ]{1,15}?)[ \t]+"
                         r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}[ \t]+)?(?:[01]?\d|2[0-3]):[0-5]\d"
                         r"(?::[0-5]\d)?[ \t]*[：:]?[ \t]*$", re.M)
# a nickname after its label: 小名涵涵, 乳名：豆豆, 昵称"阿宝"
_NICKNAME = re.compile(r"(?:小名|乳名|昵称|外号|绰号|英文名)[：:\s]*[“\"「]?"
                       r"(?P<n>[\u4e00-\u9fff]{2,3}|[A-Z][a-z]{2,12})")


_REDUP_WORDS = L.words("""
天天 常常 刚刚 慢慢 好好 渐渐 偏偏 往往 人人 多多 稍稍 微微 星星 宝宝 妈妈 爸爸 哥哥 姐姐
""")


#: Who signed each row of a table: a surname (and given name) alone at the end of two or
#: more rows that start with a number ("1     11.6     IV级 ...     黎")
_ROW_SIGNER = re.compile(r"(?m)^[ \t]*(?:\d{1,3}|\d{1,2}[/.]\d{1,2})[ \t\u3000]+[^\n]*?"
                         r"(?:[ \t\u3000]{2,}|\t)"
                         r"(?P<n>[\u4e00-\u9fff]{1,3})(?:（[^）\n]{1,6}）)?[ \t\u3000]*$")


@recogniser("name-zh-row-signer", ("zh",))
def _row_signers(text: str) -> list[_Cand]:
    """A listed surname signing two or more numbered or dated rows of a table; a surname
    alone in its column signs even when it is also a word (于, 和)."""
    rows = [m for m in _ROW_SIGNER.finditer(text)
            if m.group("n")[0] in L.CN_SURNAMES and (
                len(m.group("n")) == 1 or m.group("n") not in L.CN_NAME_STOPWORDS)]
    if len(rows) < 2:
        return []
    return [(m.start("n"), m.end("n"), "NAME", _PRIORITY["NAME"]) for m in rows]


#: A surname given alone: 她姓黄, 患者姓欧阳
_SURNAME_GIVEN = re.compile(r"(?<=姓)(?P<n>[\u4e00-\u9fff]{1,2})(?=[\s，。；、,.;！!）)]|$)")


@recogniser("name-zh-surname", ("zh",))
def _surname_given(text: str) -> list[_Cand]:
    """A surname named after 姓 ("她姓黄"): listed surnames only (not 姓名)."""
    return [(m.start("n"), m.end("n"), "NAME", _PRIORITY["NAME"])
            for m in _SURNAME_GIVEN.finditer(text)
            if m.group("n") in L.CN_SURNAMES or m.group("n") in L.CN_COMPOUND_SURNAMES]


@recogniser("name-zh-familiar", ("zh",))
def _familiar(text: str) -> list[_Cand]:
    """Familiar forms: 小 / 老 with a surname (小王, 老李), 阿 with a given character."""
    out = []
    for m in _FAMILIAR.finditer(text):
        word = m.group("n")
        if word in _FAMILIAR_WORDS or m.group("g") in L.CN_NAME_STOPWORDS:
            continue
        if m.group("s") is not None and m.group("s") not in L.CN_SURNAMES:
            continue
        if m.end() < len(text) and text[m.end()] not in _FAMILIAR_NEXT and \
                not _title_at(text, m.end()):
            continue
        if m.start() > 0 and text[m.start() - 1] in "大最较缩变很太更":
            continue  # 大小便, 最小于, 缩小
        out.append((m.start(), m.end(), "NAME", _PRIORITY["NAME"]))
    for m in _BROTHER_FORM.finditer(text):  # 家属龙哥, 同事芳姐: a name's familiar form
        if m.end() == len(text) or text[m.end()] in _FAMILIAR_NEXT:
            out.append((m.start("n"), m.end("n"), "NAME", _PRIORITY["NAME"]))
    return out


_BROTHER_FORM = re.compile(r"(?:家属|朋友|同事|邻居|老乡|联系人|工友)[：:\s]*"
                           r"(?P<n>[^\W\d_大二三四五六七八九十小老表堂亲帅美靓师嫂姐哥其胞他她的家我你您俩两各本该此那这"
                           r"亲][哥姐])")
