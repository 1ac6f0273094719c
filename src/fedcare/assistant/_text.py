"""Every sentence the assistant writes, in English and Simplified Chinese.

One catalogue, keyed by message id; :func:`say` fills it in.  Units are shown both ways
where people use both (cholesterol and glucose in mg/dL and mmol/L).
"""

from __future__ import annotations

from typing import Any

__all__ = ["LANGS", "chol", "glucose", "pct", "say"]

LANGS = ("en", "zh")

_T: dict[str, tuple[str, str]] = {
    "disclaimer": (
        "Decision support, not a diagnosis: these estimates come from published equations "
        "and models derived on other populations. Discuss them and any change of treatment "
        "with your doctor.",
        "本结果仅供健康管理决策参考，不构成诊断：风险估计来自已发表的方程和基于其他人群建立的"
        "模型。请与医生讨论结果以及任何治疗调整。"),
    # scores
    "score.risk": ("{title}: {risk} estimated {years}-year risk of {outcome}.",
                   "{title}：估计 {years} 年内发生{outcome}的风险为 {risk}。"),
    "score.points": ("{title}: {points} points ({band}).",
                     "{title}：{points} 分（{band}）。"),
    "score.skipped.missing": ("{title}: not computed, {reason}.",
                              "{title}：未计算，{reason}。"),
    "score.skipped.not_applicable.cvd_history": (
        "{title}: not computed, it is for people without cardiovascular disease; with a "
        "history of it the risk is high by definition.",
        "{title}：未计算，该方程用于无心血管病史者；已有心血管病者本身即属高危。"),
    "score.skipped.not_applicable.diabetes": (
        "{title}: not computed, it screens for undiagnosed diabetes.",
        "{title}：未计算，该评分用于筛查未诊断的糖尿病。"),
    "tier.red.cvd_history": (
        "Red: cardiovascular disease already present — secondary prevention with your "
        "doctor; reassess by {date}.",
        "红色：已有心血管病——请在医生指导下进行二级预防，并在 {date} 前复评。"),
    "score.recalibrated": ("Recalibrated to the federation's population ({sites} sites); "
                           "{published} as published.",
                           "已按联邦人群（{sites} 家机构）重新校准；原方程为 {published}。"),
    "model.risk": ("fedcare model '{name}' (federation of {sites}): {risk} risk of {outcome}.",
                   "fedcare 联邦模型“{name}”（参与机构：{sites}）：{outcome}风险 {risk}。"),
    # tiers
    "tier.green": ("Green: low risk. Keep your healthy habits and reassess by {date}.",
                   "绿色：低风险。请保持健康的生活方式，并在 {date} 前复评。"),
    "tier.yellow": ("Yellow: raised risk. Follow the plan below and reassess by {date}.",
                    "黄色：风险升高。请按照下面的计划执行，并在 {date} 前复评。"),
    "tier.red": ("Red: high risk. See your doctor soon about the plan below; reassess by "
                 "{date}.",
                 "红色：高风险。请尽快就下面的计划咨询医生，并在 {date} 前复评。"),
    "tier.unknown": ("No risk score could be computed from the answers given; add the "
                     "missing measurements listed under each score.",
                     "根据已提供的信息无法计算任何风险评分；请补充各评分所列的缺失指标。"),
    # factors
    "factor.smoking": ("You smoke: stopping is the largest single change you can make.",
                       "您目前吸烟：戒烟是您能做的最重要的单项改变。"),
    "factor.blood_pressure": ("Blood pressure {value} mmHg is not below the target of "
                              "{target} mmHg.", "血压 {value} mmHg，未达到低于 {target} mmHg "
                              "的目标。"),
    "factor.cholesterol": ("Total cholesterol {value} is at or above 5.2 mmol/L (201 mg/dL).",
                           "总胆固醇 {value}，达到或超过 5.2 mmol/L（201 mg/dL）。"),
    "factor.weight": ("Body-mass index {value} kg/m² is at or above 24: overweight by the "
                      "Chinese adult standard.", "体重指数 {value} kg/m²，达到或超过 24：按中国成人"
                      "标准属超重。"),
    "factor.obesity": ("Body-mass index {value} kg/m² is at or above 28: obesity by the "
                       "Chinese adult standard.",
                       "体重指数 {value} kg/m²，达到或超过 28：按中国成人标准属肥胖。"),
    "factor.kidney": ("eGFR {value} mL/min/1.73 m² (chronic kidney disease stage {stage}): "
                      "kidney function and the doses of medicines need a doctor's review.",
                      "估算肾小球滤过率 {value} mL/min/1.73 m²（慢性肾脏病 {stage} 期）：需由医生"
                      "评估肾功能并调整用药剂量。"),
    "factor.diabetes_control": ("HbA1c {value} % is above the usual target of < 7.0 %.",
                                "糖化血红蛋白 {value} %，高于通常 < 7.0 % 的控制目标。"),
    "factor.waist": ("Waist {value} cm is at or above the central-obesity threshold of "
                     "{limit} cm.", "腰围 {value} cm，达到或超过中心型肥胖标准 {limit} cm。"),
    "factor.activity": ("Moderate activity {value} min a week is below 150 min.",
                        "每周中等强度活动 {value} 分钟，少于 150 分钟。"),
    "factor.activity_unknown": ("You are not active for 30 minutes every day.",
                                "您并非每天活动 30 分钟以上。"),
    "factor.salt": ("Salt {value} g a day is above 5 g.", "每日食盐 {value} 克，超过 5 克。"),
    "factor.fruit_veg": ("You do not eat vegetables or fruit every day.",
                         "您并非每天吃蔬菜或水果。"),
    "factor.glucose": ("{what} is in the diabetes range, but no diabetes is recorded: see a "
                       "doctor to confirm.", "{what}已达到糖尿病诊断范围，但未记录糖尿病："
                       "请就医确诊。"),
    "factor.prediabetes": ("{what}: in a prediabetes range (fasting glucose 6.1-6.9 mmol/L, "
                           "HbA1c 5.7-6.4 %).", "{what}：处于糖尿病前期范围（空腹血糖 6.1-6.9 "
                           "mmol/L，糖化血红蛋白 5.7-6.4 %）。"),
    # what-if
    "whatif.stop_smoking": ("Stop smoking", "戒烟"),
    "whatif.sbp_minus_10": ("Lower systolic blood pressure by 10 mmHg", "收缩压降低 10 mmHg"),
    "whatif.cholesterol_minus_1": ("Lower total cholesterol by 1 mmol/L (38.7 mg/dL)",
                                   "总胆固醇降低 1 mmol/L（38.7 mg/dL）"),
    "whatif.weight_loss_5pct": ("Lose 5 % of body weight", "体重减轻 5%"),
    "whatif.activity_150": ("Reach 150 minutes of moderate activity a week",
                            "每周中等强度活动达到 150 分钟"),
    "whatif.salt_under_5g": ("Eat less than 5 g of salt a day", "每日食盐少于 5 克"),
    "whatif.result": ("{what}: {score} from {before} to {after}.",
                      "{what}：{score}从 {before} 降至 {after}。"),
    "whatif.effect_note": ("(the equation gives no reduction at this age, so the trial "
                           "effect is shown)",
                           "（该方程在此年龄下未显示下降，故采用临床试验的效应）"),
    "whatif.points": ("{what}: {score} from {before} to {after} points.",
                      "{what}：{score}从 {before} 分降至 {after} 分。"),
    "whatif.none": ("{what}: no estimate — {why}", "{what}：无法估计——{why}"),
    # plan
    "plan.bp_urgent": ("Blood pressure {value} mmHg is very high: see a doctor within days.",
                       "血压 {value} mmHg 很高：请在几天内就医。"),
    "plan.bp_treat": ("Blood pressure {value} mmHg: see your doctor within 2 weeks about "
                      "starting or adjusting treatment; target below {target} mmHg.",
                      "血压 {value} mmHg：请在 2 周内就医，开始或调整降压治疗；目标低于 {target} "
                      "mmHg。"),
    "plan.blood_pressure.treated": ("Blood pressure is above target on treatment: see your "
                                    "doctor about adjusting it; target below {target} mmHg.",
                                    "正在治疗但血压仍未达标：请就医调整治疗；目标低于 {target} "
                                    "mmHg。"),
    "plan.weight_nokg": ("Lose 5 % of your weight in 6 months; aim for a body-mass index of "
                         "18.5-23.9 kg/m².", "6 个月内减重 5%；目标体重指数 18.5-23.9 kg/m²。"),
    "plan.lipids_secondary": ("With cardiovascular disease: cholesterol-lowering treatment "
                              "to LDL cholesterol below 1.8 mmol/L (70 mg/dL); check it with "
                              "your doctor.",
                              "已有心血管病：降胆固醇治疗，使低密度脂蛋白胆固醇低于 1.8 mmol/L"
                              "（70 mg/dL）；请与医生一起复查。"),
    "plan.secondary_meds": ("Take the medicines prescribed after the event (antiplatelet, "
                            "statin, blood-pressure medicines) every day; ask about cardiac "
                            "rehabilitation.", "每天按医嘱服用事件后开具的药物（抗血小板药、他汀、"
                            "降压药）；咨询心脏康复。"),
    "plan.diabetes_control": ("Bring HbA1c below 7.0 % with your doctor; recheck it in 3 "
                              "months.", "在医生指导下使糖化血红蛋白低于 7.0 %；3 个月后复查。"),
    "plan.diabetes_screening": ("Yearly checks for diabetes complications: eyes, kidneys "
                                "(urine albumin, eGFR) and feet.", "每年筛查糖尿病并发症：眼底、"
                                "肾脏（尿白蛋白、估算肾小球滤过率）和足部。"),
    "plan.kidney": ("Ask your doctor to review kidney function and medicine doses within a "
                    "month.", "请在一个月内请医生评估肾功能和用药剂量。"),
    "plan.smoking": ("Set a quit date within 2 weeks; ask your doctor about counselling and "
                     "medicines, or call the 12320 health hotline.",
                     "在 2 周内确定戒烟日；向医生咨询戒烟门诊和药物，或拨打 12320 卫生热线。"),
    "plan.blood_pressure": ("Bring blood pressure below {target} mmHg: measure it at home "
                            "twice a week and bring the readings to your doctor.",
                            "将血压控制在 {target} mmHg 以下：每周在家测量两次，并把记录带给"
                            "医生。"),
    "plan.blood_pressure.missed": ("Blood pressure is still above target: see your doctor "
                                   "about starting or adjusting treatment.",
                                   "血压仍未达标：请就医开始或调整降压治疗。"),
    "plan.salt": ("Eat less than 5 g of salt a day (about one level teaspoon), including "
                  "soy sauce and pickles.", "每日食盐少于 5 克（约一平勺），包括酱油和咸菜中"
                  "的盐。"),
    "plan.diet": ("Each day: 300-500 g vegetables, 200-350 g fruit, 25-30 g cooking oil.",
                  "每天：蔬菜 300-500 克，水果 200-350 克，烹调油 25-30 克。"),
    "plan.activity": ("Build up to 150-300 minutes of moderate activity a week (e.g. 30 "
                      "minutes of brisk walking on 5 days), plus muscle strengthening on 2 "
                      "days.", "逐步达到每周 150-300 分钟中等强度活动（如每周 5 天、每天快走 "
                      "30 分钟），并每周 2 天进行肌肉力量练习。"),
    "plan.weight": ("Lose 5 % of your weight ({kg} kg) in 6 months; aim for a body-mass "
                    "index of 18.5-23.9 kg/m².", "6 个月内减重 5%（{kg} 千克）；目标体重指数 "
                    "18.5-23.9 kg/m²。"),
    "plan.weight.missed": ("Weight has not come down: ask about a structured weight-loss "
                           "programme.", "体重未下降：请咨询系统的减重计划。"),
    "plan.lipids": ("Discuss cholesterol-lowering treatment (a statin) with your doctor.",
                    "请与医生讨论降胆固醇治疗（他汀类药物）。"),
    "plan.glucose": ("Have an oral glucose tolerance test or fasting glucose and HbA1c "
                     "within a month.", "在一个月内进行口服葡萄糖耐量试验，或检测空腹血糖和"
                     "糖化血红蛋白。"),
    "plan.see_doctor_glucose": ("See a doctor within 2 weeks to confirm diabetes.",
                                "请在 2 周内就医确诊糖尿病。"),
    "plan.by": ("by {date}", "{date} 前"),
    "plan.maintain": ("{area}: target met, keep it up.", "{area}：已达标，请继续保持。"),
    "plan.improving": ("Improving, not yet at target: keep going.",
                       "有改善但尚未达标：请继续努力。"),
    "plan.reassess": ("Reassess on or before {date}.", "请在 {date} 或之前复评。"),
    "plan.reassess_unknown": ("Reassess once the missing measurements are available.",
                              "补齐缺少的检查结果后再评估。"),
    # bands
    "band.low": ("low", "低"),
    "band.high": ("high", "高"),
    "band.slightly_elevated": ("slightly elevated", "略高"),
    "band.moderate": ("moderate", "中等"),
    "band.very_high": ("very high", "很高"),
    "basis.cvd": ("10-year cardiovascular risk {risk} ({score}, {level})",
                  "10 年心血管病风险 {risk}（{score}，{level}）"),
    "basis.points": ("{score} {points} points ({level})", "{score} {points} 分（{level}）"),
    "basis.glucose": ("glucose in the diabetes range", "血糖已达糖尿病诊断范围"),
    "basis.no_cvd": ("no cardiovascular score could be computed", "无法计算心血管病风险评分"),
    "level.green": ("low", "低"), "level.yellow": ("raised", "升高"),
    "level.red": ("high", "高"), "level.unknown": ("unknown", "未知"),
    "tierbadge.green": ("GREEN", "绿色"), "tierbadge.yellow": ("YELLOW", "黄色"),
    "tierbadge.red": ("RED", "红色"), "tierbadge.unknown": ("UNKNOWN", "未知"),
    "scores.differ": (
        "The scores differ because they predict different outcomes in different populations; "
        "the tier rests on {score}. US equations (Framingham, PCE, PREVENT) may overestimate "
        "risk in Chinese people.",
        "各评分结果不同，是因为它们预测的结局和建立人群不同；分级依据 {score}。美国人群的方程"
        "（Framingham、PCE、PREVENT）可能高估中国人的风险。"),
    "reason.missing": ("missing {fields}", "缺少{fields}"),
    "reason.missing_or_bmi": ("missing {fields} (or give bmi for the office-based version)",
                              "缺少{fields}（或提供体重指数以使用基于诊室指标的版本）"),
    "reason.range": ("{field} outside {low}-{high}, the range the equation was derived on",
                     "{field}超出该方程的适用范围（{low}-{high}）"),
    "reason.not_applicable.cvd_history": ("for people without cardiovascular disease",
                                          "仅适用于无心血管病者"),
    "reason.not_applicable.diabetes": ("screens for undiagnosed diabetes",
                                       "用于筛查未诊断的糖尿病"),
    "trend.better": ("{score}: {before} on {from_date}, {after} now — lower.",
                     "{score}：{from_date} 为 {before}，现在为 {after}——已下降。"),
    "trend.worse": ("{score}: {before} on {from_date}, {after} now — higher.",
                    "{score}：{from_date} 为 {before}，现在为 {after}——已上升。"),
    "trend.same": ("{score}: {before} on {from_date}, {after} now — unchanged.",
                   "{score}：{from_date} 为 {before}，现在为 {after}——无变化。"),
}

#: Score titles and outcomes in Chinese (English titles live with the equations).
TITLES_ZH = {
    "framingham_cvd_2008": ("Framingham 心血管病风险（2008）", "心血管病"),
    "pce_ascvd_2013": ("汇总队列方程（PCE，2013）", "动脉粥样硬化性心血管病"),
    "prevent_cvd_2023": ("AHA PREVENT 心血管病风险（2023）", "心血管病"),
    "cdrs": ("中国糖尿病风险评分（2013）", "未诊断的 2 型糖尿病"),
    "findrisc": ("芬兰糖尿病风险评分（FINDRISC）", "2 型糖尿病"),
}


def say(key: str, lang: str, **values: Any) -> str:
    """The message ``key`` in ``lang`` ("en" or "zh"), filled in."""
    en, zh = _T[key]
    return (zh if lang == "zh" else en).format(**values)


def pct(risk: float) -> str:
    """A risk as a percentage with one decimal."""
    return f"{100 * risk:.1f} %"


def chol(mgdl: float, lang: str) -> str:
    """Cholesterol both ways: mmol/L first in Chinese, mg/dL first in English."""
    mmol = mgdl / 38.665
    return (f"{mmol:.2f} mmol/L（{mgdl:.0f} mg/dL）" if lang == "zh"
            else f"{mgdl:.0f} mg/dL ({mmol:.2f} mmol/L)")


def glucose(mgdl: float, lang: str) -> str:
    """Glucose both ways: mmol/L first in Chinese, mg/dL first in English."""
    mmol = mgdl / 18.0156
    return (f"{mmol:.1f} mmol/L（{mgdl:.0f} mg/dL）" if lang == "zh"
            else f"{mgdl:.0f} mg/dL ({mmol:.1f} mmol/L)")


#: Plan areas and factors in both languages (achieved items, tables).
AREAS = {"smoking": ("smoking", "戒烟"), "blood_pressure": ("blood pressure", "血压"),
         "salt": ("salt", "限盐"), "diet": ("diet", "膳食"), "activity": ("activity", "身体活动"),
         "weight": ("weight", "体重"), "lipids": ("cholesterol", "血脂"),
         "glucose": ("glucose", "血糖"), "kidney": ("kidney", "肾功能"),
    "complications": ("diabetes complications", "糖尿病并发症"),
         "medicines": ("medicines", "用药")}


def area(name: str, lang: str) -> str:
    """A plan area's name in ``lang``."""
    en, zh = AREAS.get(name, (name, name))
    return zh if lang == "zh" else en


def note(text: str, lang: str) -> str:
    """A profile note ("bmi computed from ...", "x converted from A to B") in ``lang``."""
    if lang != "zh":
        return text
    import re

    from fedcare.assistant._profile import FIELDS

    m = re.match(r"(\w+) converted from (.+) to (.+)$", text)
    if m and m.group(1) in FIELDS:
        return f"{FIELDS[m.group(1)].zh}已由 {m.group(2)} 换算为 {m.group(3)}"
    if text.startswith("bmi computed"):
        return "体重指数由身高和体重计算得出"
    if text.startswith("bp_medication taken as true"):
        return "正在接受降压治疗，故视为曾服用降压药"
    return text
