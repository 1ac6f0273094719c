"""Word lists the recognisers use: names, surnames, titles, places, medical eponyms.

These lists belong to the recogniser only.  The synthetic test-set generator
(``scripts/make_phi_notes.py``) carries its own, partly different lists, so that the
benchmark also measures names the recogniser has never seen.
"""

from __future__ import annotations

__all__ = [
    "AMBIGUOUS_EN_NAMES",
    "CN_CITIES",
    "CN_COMPOUND_SURNAMES",
    "CN_NAME_STOPWORDS",
    "CN_PROVINCES",
    "CN_SURNAMES",
    "CN_TITLES",
    "EN_EPONYMS",
    "EN_FIRST_NAMES",
    "EN_NOT_NAMES",
    "EN_SURNAMES",
    "US_CITIES",
    "US_STATES",
    "US_STATE_NAMES",
    "words",
]


def words(block: str) -> frozenset[str]:
    """The whitespace-separated words of ``block``."""
    return frozenset(block.split())


#: Common US given names (census-style frequency lists), lower case.
EN_FIRST_NAMES = words("""
james john robert michael william david richard joseph thomas charles christopher daniel
matthew anthony mark donald steven paul andrew joshua kenneth kevin brian george timothy
ronald edward jason jeffrey ryan jacob gary nicholas eric jonathan stephen larry justin
scott brandon benjamin samuel gregory alexander frank patrick raymond jack dennis jerry
tyler aaron jose adam nathan henry douglas zachary peter kyle ethan walter noah jeremy
christian keith roger terry gerald harold sean austin carl arthur lawrence dylan jesse
jordan bryan billy joe bruce gabriel logan albert willie alan juan wayne elijah randy roy
vincent ralph eugene russell bobby mason philip louis harry howard fred earl travis
luis carlos miguel antonio ricardo manuel pedro jorge alejandro fernando diego javier
mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty
margaret sandra ashley kimberly emily donna michelle carol amanda dorothy melissa deborah
stephanie rebecca sharon laura cynthia kathleen amy angela shirley anna brenda pamela
emma nicole helen samantha katherine christine debra rachel carolyn janet catherine maria
heather diane ruth julie olivia joyce virginia victoria kelly lauren christina joan evelyn
judith megan andrea cheryl hannah jacqueline martha gloria teresa ann sara madison frances
kathryn janice jean abigail alice judy sophia denise doris marilyn danielle beverly isabella
theresa diana natalie brittany charlotte marie kayla alexis lori rosa elena carmen sofia
lucia ana isabel patrice tanya monica wendy tracy sylvia yolanda eleanor lillian peggy
priya anil raj sanjay deepak wei li ming mohammed ahmed ali fatima aisha omar hassan
yusuf ibrahim mustafa layla nadia hiroshi yuki kenji akira sakura mei jun hyun min
ji-woo seo-yeon dmitri olga ivan natasha sergei anastasia giovanni francesca marco luca
pierre jacques marie-claire francois hans klaus greta ingrid sven lars astrid kwame kofi
amara chidi ngozi adebayo
""")

#: Common US surnames, lower case.
EN_SURNAMES = words("""
smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez
gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white harris
sanchez clark ramirez lewis robinson walker young allen king wright scott torres nguyen hill
flores green adams nelson baker hall rivera campbell mitchell carter roberts gomez phillips
evans turner diaz parker cruz edwards collins reyes stewart morris morales murphy cook rogers
gutierrez ortiz morgan cooper peterson bailey reed kelly howard ramos kim cox ward richardson
watson brooks chavez wood james bennett gray mendoza ruiz hughes price alvarez castillo
sanders patel myers long ross foster jimenez powell jenkins perry russell sullivan bell
coleman butler henderson barnes gonzales fisher vasquez simmons romero jordan patterson
alexander hamilton graham reynolds griffin wallace moreno west cole hayes bryant herrera
gibson ellis tran medina aguilar stevens murray ford castro marshall owens harrison
fernandez mcdonald woods washington kennedy wells vargas henry chen freeman webb tucker
guzman burns crawford olson simpson porter hunter gordon mendez silva shaw snyder mason
dixon munoz hunt hicks holmes palmer wagner black robertson boyd rose stone salazar fox
warren mills meyer rice schmidt garza daniels ferguson nichols stephens soto weaver ryan
gardner payne grant dunn kelley spencer hawkins arnold pierce vazquez hansen peters santos
hart bradley knight elliott cunningham duncan armstrong hudson carroll lane riley andrews
alvarado ray delgado berry perkins hoffman johnston matthews pena richards contreras willis
carpenter lawrence sandoval guerrero george chapman rios estrada ortega watkins greene
nunez wheeler valdez harper burke larson santiago maldonado morrison franklin carlson
austin dominguez carr lawson jacobs obrien o'brien lynch singh vega bishop montgomery
oliver jensen harvey williamson gilbert dean sims espinoza howell li wong reid hanson le
mccoy garrett burton fuller wang weber welch rojas lucas marquez fields park yang little
banks padilla day walsh bowman schultz luna fowler mejia davidson acosta brewer may holland
juarez newman pearson curtis cortez douglas schneider joseph barrett navarro figueroa keller
avila wade molina stanley hopkins campos barnett bates chambers caldwell beck lambert
miranda byrd craig ayala lowe frazier powers neal leonard gregory carrillo sutton fleming
rhodes shelton schwartz norris jennings watts duran walters cohen mcdaniel moran parks
steele vaughn becker holt deleon barker terry hale leon hail benson haynes horton miles
lyons pham graves bush thornton wolfe warner cabrera mckinney mann zimmerman dawson lara
fletcher page mccarthy love robles cervantes solis erickson reeves chang klein salinas
fuentes baldwin daniel simon velasquez hardy higgins aguirre lin cummings chandler sharp
barber bowen ochoa dennis robbins liu ramsey francis griffith paul blair oconnor o'connor
cardenas pacheco cross calderon quinn moss swanson chan rivas khan rodgers serrano
fitzgerald rosales stevenson christensen manning gill curry mclaughlin harmon mcgee gross
doyle garner newton burgess reese walton blake trujillo adkins brady goodman roman webster
goodwin fischer huang potter delacruz montoya todd wu hines mullins castaneda malone cannon
tate mack sherman hubbard hodges zhang guerra wolf valencia saunders franco rowe gallagher
farmer hammond hampton townsend ingram wise gallegos clarke barton schroeder maxwell
waters logan camacho strickland norman person colon parsons frank harrington glover osborne
buchanan casey floyd patton ibarra ball tyler suarez bowers orozco salas cobb gibbs andrade
bauer conner moody escobar mcguire lloyd mueller hartman french kramer mcbride pope lindsey
velazquez norton mccormick sparks flynn yates hogan marsh macias villanueva zamora pratt
stokes owen ballard lang brock villarreal charles drake barrera cain patrick pineda burnett
mercado santana shepherd bautista ali shaffer lamb trevino mckenzie hess beil olsen
cochran morton nash wilkins petersen briggs shah roth nicholson holloway lozano rangel
flowers hoover short arias mora valenzuela bryan meyers weiss underwood bass greer summers
houston carson morrow clayton whitaker decker yoder collier zuniga carey wilcox melendez
poole roberson larsen conley davenport copeland massey lam huff rocha cameron jefferson
hood monroe anthony pittman huynh randall singleton kirk combs mathis christian skinner
bradford richard galvan wall boone kirby wilkinson bridges bruce atkinson velez meza roy
vincent york hodge villa abbott allison tapia gates chase sosa sweeney farrell wyatt dalton
horn barron phelps yu dickerson heath foley atkins mathews bonilla acevedo benitez zavala
hensley glenn cisneros harrell shields rubio huffman choi boyer garrison arroyo bond kane
hancock callahan dillon cline wiggins grimes arellano melton oneill o'neill savage ho beltran
kowalski nowak novak muller wagner schmitt kumar sharma gupta das ahmed hussain rahman
tanaka suzuki sato watanabe yamamoto nakamura kobayashi ito petrov ivanov smirnov rossi
russo ferrari esposito bianchi romano silva santos oliveira costa pereira dubois lefebvre
martin bernard moreau laurent okafor adeyemi mensah
""")

#: Given names that are also common English words (or months): never taken alone.
AMBIGUOUS_EN_NAMES = words("""
will bill mark grant hunter joy hope faith grace rose may june april august art bob
sunny summer autumn dawn eve frank earl guy jack jean pat sue ray rich rusty sandy skip
chase miles lane dean bishop page park price long little young white black green brown gray
grey king hill wood woods cook baker bell rice hunt day love ball short wise cross page
carter mason parker porter hall moss stone fox wolf lamb hale power powers banks summers
waters fields flowers winter brooks bush gross sharp strong rich paul justice major
christian norman summer guy cannon drake best ward chambers house holmes
""")

#: Capitalised words that are never a person's name in a clinical note (eponyms, drugs,
#: departments, sentence-initial words).
EN_NOT_NAMES = words("""
total score scores subtotal
tab tabs cap caps inj syp syr susp oint triage visit record respiratory sorry smt shri
folder member level coordinator referring nationality injured you doc wong-baker
tuberculosis aureus coli pylori difficile pneumoniae epidermidis pyogenes agalactiae
influenzae gonorrhoeae trachomatis aeruginosa faecalis faecium marcescens burnetii
night nights handover district community agency bank charge shift weekend overnight
patient patients pt the a an he she his her they their this that these those there here
mr mrs ms dr doctor nurse attending resident physician surgeon provider service team
department dept clinic hospital center centre unit ward floor room bed icu er ed or pacu
medicine cardiology oncology neurology nephrology surgery radiology pathology pharmacy
emergency internal family general intensive care primary urgent pediatrics obstetrics
gynecology psychiatry orthopedics urology dermatology endocrinology gastroenterology
hematology pulmonology rheumatology infectious disease diseases
university college school institute medical health system foundation memorial saint st
street avenue road boulevard lane drive court place way suite apt apartment
monday tuesday wednesday thursday friday saturday sunday
january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec
lasix coumadin tylenol advil motrin zofran heparin warfarin aspirin insulin lipitor
norvasc metformin lisinopril atorvastatin metoprolol amlodipine furosemide vancomycin
zosyn ceftriaxone keflex augmentin prednisone solumedrol protonix pepcid xarelto eliquis
plavix
history present illness assessment plan impression diagnosis diagnoses medications
allergies labs vitals exam physical review systems social surgical past discharge
admission admitted chief complaint hpi pmh psh ros a/p note summary follow followup
no none denies reports states noted seen given started continued stopped held
yes not normal abnormal positive negative stable unchanged improved worse
left right bilateral upper lower anterior posterior
blood pressure heart rate temperature oxygen saturation
ct mri ekg ecg cxr us echo
male female man woman son daughter wife husband mother father sister brother
english spanish chinese mandarin cantonese american african asian caucasian hispanic
latino white black
god lord christ jesus
medicare medicaid aetna cigna humana kaiser blue cross shield united
mrn dob ssn bp hr rr temp spo2 wbc hgb hct plt inr ptt bun cr gfr alt ast ldh bnp tsh hba1c
ldl hdl abg cbc bmp cmp ua iv po im sc prn qd bid tid qid hs npo dnr dni cpr copd chf cad
htn dm ckd esrd gerd uti dvt pe mi cva tia afib ards sob cp loc nkda id no fax tel phone
email address insurance account license serial device plate vehicle passport
christmas easter thanksgiving halloween hanukkah passover ramadan diwali merry happy holiday
obs observations practitioner approval typed dictated transcribed sent subject fwd re cc
pte cpl mcpl sgt lt capt maj col brig gen adm cdr
""")

#: Eponyms (diseases, signs, devices): not a name by themselves, but also surnames, so
#: taken after a title or a label ("Dr. Murphy") and never alone.
EN_EPONYMS = words("""
parkinson parkinson's alzheimer alzheimer's crohn crohn's hodgkin hodgkin's cushing
cushing's addison addison's graves hashimoto down foley glasgow apgar babinski bell bell's
kussmaul cheyne stokes murphy murphy's mcburney homan homans brudzinski kernig romberg
trendelenburg valsalva wernicke korsakoff guillain barre barré raynaud raynaud's sjogren
sjögren kawasaki kaposi ewing wilms wilson wilson's huntington huntington's tourette marfan
turner turner's klinefelter bartholin swan ganz whipple nissen roux billroth hartmann
osgood schlatter dupuytren dupuytren's ledderhose kienbock kienböck scheuermann perthes
calve calvé lisfranc chopart maisonneuve monteggia galeazzi heberden heberden's
finkelstein phalen phalen's tinel tinel's lachman mcmurray chvostek trousseau
rovsing mallampati gleason caprini ranson blatchford rockall schatzker gustilo
quervain hirschsprung hirschsprung's krukenberg wegener zollinger creutzfeldt
goodpasture takayasu behcet behçet brugada fallot chiari duchenne ehlers danlos gaucher
niemann sturge hippel lindau willebrand munchausen asperger asperger's epworth
kocher pfannenstiel seldinger mantoux heimlich baker's meckel meckel's meniere ménière
ménière's peyronie peyronie's sever's
freiberg sinding
""")

#: US states and their postal abbreviations (for "City, ST 12345").
US_STATES = words("""
AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ
NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR
""")

#: Larger US cities (lower case, "_" for a space); taken only after "in/from/near/to".
US_CITIES = words("""
boston chicago houston phoenix philadelphia dallas austin jacksonville columbus
indianapolis charlotte seattle denver nashville detroit portland memphis louisville
baltimore milwaukee albuquerque tucson fresno sacramento atlanta omaha raleigh miami
oakland minneapolis tulsa cleveland wichita arlington tampa honolulu anaheim aurora
pittsburgh cincinnati toledo newark buffalo madison lincoln orlando durham chandler laredo
norfolk lubbock irvine richmond spokane tacoma rochester worcester providence hartford
springfield dayton akron syracuse albany knoxville chattanooga savannah charleston
birmingham montgomery jackson shreveport lafayette baton_rouge little_rock topeka lansing
flint ann_arbor cambridge somerville lowell brockton quincy newton framingham
""")

#: Chinese provincial-level divisions (short names; 省/市/自治区 may follow).
CN_PROVINCES = words("""
北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北
湖南 广东 海南 四川 贵州 云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门
""")

#: Chinese prefecture-level cities (short names, a selection).
CN_CITIES = words("""
石家庄 唐山 保定 邯郸 沧州 廊坊 太原 大同 沈阳 大连 鞍山 长春 吉林 哈尔滨 大庆 齐齐哈尔
南京 苏州 无锡 常州 南通 徐州 扬州 杭州 宁波 温州 绍兴 嘉兴 金华 台州 合肥 芜湖 福州
厦门 泉州 南昌 赣州 济南 青岛 烟台 潍坊 临沂 郑州 洛阳 开封 武汉 宜昌 襄阳 长沙 株洲
湘潭 衡阳 广州 深圳 珠海 佛山 东莞 中山 惠州 汕头 海口 三亚 成都 绵阳 宜宾 贵阳 遵义
昆明 大理 西安 咸阳 宝鸡 兰州 西宁 银川 乌鲁木齐 拉萨 呼和浩特 包头 南宁 桂林 柳州
""")

#: Chinese compound surnames (checked before single-character ones).
CN_COMPOUND_SURNAMES = words("""
欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 钟离 端木
南宫 西门 呼延 独孤 申屠 赫连 澹台 淳于 太史 百里 东郭 闻人
濮阳 万俟 拓跋 鲜于 闾丘 司空 宗政 公羊 公冶 太叔 仲孙 乐正 左丘 梁丘 羊舌 公西
歐陽 司馬 諸葛 東方 尉遲 公孫 長孫 軒轅 鐘離 南宮 西門 獨孤 赫連 澹臺 聞人
""")

#: Common Chinese single-character surnames (roughly the 300 most frequent).
CN_SURNAMES = frozenset("""
王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程
苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾
毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰
焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲
房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚景党宫费卜冷晏席卫米柏宗瞿桂全佟应
臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎丛仲虞敖巩佘池查麻苑迟邝官封谈匡惠荆乐冀郁胥班储
栗燕楚鄢劳谌奚皮粟蔺楼盘满位厉伊仝郜阚权帅屠豆朴练廉禹井祖漆巴丰支卿狄计索宣晋初
""".replace("\n", ""))

#: Titles/roles that follow a Chinese name (王主任, 李明医生); longest first.
CN_TITLES = (
    "副主任医师", "主任医师", "主治医师", "住院医师", "护士长", "副主任", "副院长", "副教授",
    "医生", "医师", "大夫", "主任", "护士", "教授", "院长", "老师", "先生", "女士", "小姐",
    "阿姨", "师傅", "同志", "老人", "大爷", "大妈", "奶奶", "爷爷", "主管", "技师", "药师",
    "警官", "民警", "交警", "法官", "律师", "书记", "村长", "队长", "经理", "老板", "社工", "会计",
    "主席", "校长", "园长", "所长", "站长", "厂长", "科长", "处长", "局长", "部长", "会长", "教练",
    # traditional forms (Hong Kong, Macau, Taiwan)
    "副主任醫師", "主任醫師", "主治醫師", "住院醫師", "護士長", "醫生", "醫師", "護士", "院長",
)

#: Characters/words that end a Chinese name candidate (function words, verbs that follow
#: names in notes).  A given name never contains these in the recogniser's view.
CN_NAME_STOPWORDS = words("""
男 女 约 因 于 在 是 为 的 了 和 与 及 等 诉 主 患 入 出 院 年 岁 月 日 说 称 述 反 今 昨 前 后
来 去 已 未 无 有 不 也 都 均 各 该 其 此 之 以 被 把 将 向 从 自 由 对 给 让 请 经 予 行 查 看
示 诊 治 送 转 住 术 到 回 见 要 做 陪 同 签 字 电 话 号 床 科 室 性 例 位 名 级 型 次 本 其
我 你 他 她 它 您 每 某 系 即 就 还 又 再 才 只 但 或 并 且 着 过 吗 呢 吧 啊
""")

#: US state names (for "Springfield, Illinois").
US_STATE_NAMES = (
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut",
    "Delaware", "Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa",
    "Kansas", "Kentucky", "Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan",
    "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska", "Nevada", "New Hampshire",
    "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota", "Ohio",
    "Oklahoma", "Oregon", "Pennsylvania", "Rhode Island", "South Carolina", "South Dakota",
    "Tennessee", "Texas", "Utah", "Vermont", "Virginia", "Washington", "West Virginia",
    "Wisconsin", "Wyoming", "Puerto Rico",
)
