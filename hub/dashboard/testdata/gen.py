#!/usr/bin/env python3
"""Writes the dashboard's fixture API responses (issue 7 contract) for the
ten Tuscan demo territories. Seeded: running it again gives the same files.
Run from this folder: python3 gen.py"""
import json, math, random, os, zlib

rnd = random.Random(7)
HERE = os.path.dirname(os.path.abspath(__file__))
tf = json.load(open(os.path.join(HERE, "../../../examples/region/territories.json")))
cat = json.load(open(os.path.join(HERE, "../../../schemas/indicators/v1.json")))

GROUPS = {"100k-250k/t1": ["TOS-MS"], "100k-250k/t2": ["TOS-GR"], "100k-250k/t3": ["TOS-PO"],
          "250k-500k/t1": ["TOS-LI", "TOS-LU", "TOS-PT"], "250k-500k/t2": ["TOS-AR", "TOS-PI"],
          "250k-500k/t3": ["TOS-SI"], "ge-500k/t3": ["TOS-FI"]}
BAND = {"lt-100k": ("< 100.000 ab.", "< 100,000 residents"), "100k-250k": ("100.000–250.000 ab.", "100,000–250,000 residents"),
        "250k-500k": ("250.000–500.000 ab.", "250,000–500,000 residents"), "ge-500k": ("≥ 500.000 ab.", "≥ 500,000 residents")}
TERC = {1: ("stranieri terzile basso", "bottom foreign-share tercile"), 2: ("stranieri terzile medio", "middle foreign-share tercile"),
        3: ("stranieri terzile alto", "top foreign-share tercile")}
PEERS = {"TOS-AR": "TOS-PI,TOS-PT,TOS-SI,TOS-LU,TOS-LI", "TOS-FI": "TOS-PI,TOS-AR,TOS-LU,TOS-LI,TOS-PT",
         "TOS-GR": "TOS-SI,TOS-PT,TOS-MS,TOS-AR,TOS-LI", "TOS-LI": "TOS-LU,TOS-PT,TOS-PI,TOS-AR,TOS-SI",
         "TOS-LU": "TOS-LI,TOS-PI,TOS-PT,TOS-AR,TOS-SI", "TOS-MS": "TOS-GR,TOS-PT,TOS-LI,TOS-SI,TOS-LU",
         "TOS-PI": "TOS-AR,TOS-LU,TOS-PT,TOS-LI,TOS-SI", "TOS-PO": "TOS-SI,TOS-AR,TOS-GR,TOS-PT,TOS-PI",
         "TOS-PT": "TOS-SI,TOS-AR,TOS-GR,TOS-LI,TOS-PI", "TOS-SI": "TOS-PT,TOS-GR,TOS-AR,TOS-PI,TOS-LI"}
GROUP_OF = {c: g for g, ms in GROUPS.items() for c in ms}
TS = [dict(code=t["code"], name=t["name"], population=t["population"], foreign_residents=t["foreign_residents"],
           foreign_share=round(t["foreign_residents"] / t["population"], 4), group=GROUP_OF[t["code"]],
           peers=PEERS[t["code"]].split(","), enrolled=True, last_epoch="2025") for t in tf["territories"]]
NAME = {t["code"]: t["name"] for t in TS}
POP = {t["code"]: t for t in TS}
CODES = [t["code"] for t in TS]
EPOCHS = ["2025", "2025-Q4", "2025-Q3", "2025-Q2", "2025-Q1", "2024", "2024-Q4", "2024-Q3", "2024-Q2", "2024-Q1"]
RATIO = [i for i in cat["indicators"] if i["kind"] == "ratio"]
# Base rate and households per 100,000 residents (the denominator's scale) per indicator.
BASE = {"referral-acceptance": (0.72, 60), "referral-closed-loop": (0.55, 50), "housing-retention-6m": (0.81, 14),
        "housing-retention-12m": (0.70, 11), "returns-to-homelessness": (0.14, 12), "ethos-improvement": (0.38, 30),
        "employment-rate": (0.27, 25), "post-internship-employment": (0.44, 6), "activation-timeliness": (0.63, 40),
        "social-network-gain": (0.31, 22), "volunteer-support": (0.22, 35)}
# Each territory's model shifts its rates a little, the same way across indicators.
EFFECT = {c: rnd.gauss(0, 0.06) for c in CODES}  # noqa
NOISE_SD = 2.0  # sd of the noise added to each published count


def est(p, lo, hi, clipped=False):
    return {"published": True, "value": round(p, 4), "low": round(max(0, lo), 4), "high": round(min(1, hi), 4), **({"clipped": True} if clipped else {})}


def withheld(reason):
    return {"published": False, "value": 0, "low": 0, "high": 0, "reason": reason}


def rate(num, den):
    p = num / den
    sd = math.sqrt(max(p * (1 - p), 0.25 / den) / den + 2 * (NOISE_SD / den) ** 2)
    return est(p, p - 1.96 * sd, p + 1.96 * sd)


def count_est(n, per=1.0):
    sd = math.sqrt(n + NOISE_SD ** 2)
    return {"published": True, "value": round(n * per, 3), "low": round(max(0, n - 1.96 * sd) * per, 3), "high": round((n + 1.96 * sd) * per, 3)}


def coverage(contrib, suppressed=(), missing=(), withheld_=()):
    c = sorted(contrib)
    n = len(c) + len(suppressed) + len(missing) + len(withheld_)
    return {"contributing": len(c), "enrolled": n, "suppressed": len(suppressed), "missing": len(missing),
            "withheld": len(withheld_), "territories": c, "text": f"{len(c)} of {n}"}


def cells(ind, epoch, scale=1.0):
    """Per-territory (numerator, denominator, state) for one ratio indicator."""
    base, per100k = BASE[ind]
    out = {}
    h = zlib.crc32((ind + epoch).encode())
    r = random.Random(h)
    for c in CODES:
        den = max(3, int(POP[c]["population"] / 100000 * per100k * scale * r.uniform(0.7, 1.3)))
        p = min(0.97, max(0.03, base + EFFECT[c] * (1 if base < 0.5 else -1 if ind == "returns-to-homelessness" else 1) + r.gauss(0, 0.03)))
        num = int(round(den * p + r.gauss(0, NOISE_SD)))
        num = min(den, max(0, num))
        state = "ok"
        if den < 20:
            state = "suppressed"
        elif num < 10:
            state = "below"
        out[c] = (num, den, state)
    # Massa-Carrara's small numbers are suppressed on the rarer indicators.
    if per100k <= 14 and out["TOS-MS"][2] == "ok":
        out["TOS-MS"] = (out["TOS-MS"][0], out["TOS-MS"][1], "suppressed")
    return out


def group_rate(gid, members, cs):
    pub = [c for c in members if cs[c][2] == "ok"]
    sup = [c for c in members if cs[c][2] == "suppressed"]
    wh = [c for c in members if cs[c][2] == "below"]
    if pub:
        rates = [cs[c][0] / cs[c][1] for c in pub]
        m = sum(rates) / len(rates)
        var = sum(max(p * (1 - p), 0.01) / cs[c][1] for p, c in zip(rates, pub)) / len(pub) ** 2
        mean = est(m, m - 1.96 * math.sqrt(var), m + 1.96 * math.sqrt(var))
    else:
        mean = withheld("no_contributor")
    pooled_m = [c for c in members if cs[c][2] != "suppressed"]
    pn = sum(cs[c][0] for c in pooled_m)
    pd = sum(cs[c][1] for c in pooled_m)
    pooled = rate(pn, pd) if pd >= 20 and pn >= 10 else withheld("no_contributor" if not pd else "below_display_threshold")
    return {"group": gid, "mean": mean, "mean_coverage": coverage(pub, sup, (), wh), "pooled": pooled,
            "pooled_numerator": pn, "pooled_denominator": pd, "pooled_coverage": coverage(pooled_m, sup)}


def territory_row(c, cs, kind="ratio"):
    num, den, state = cs[c]
    row = {"code": c, "name": NAME[c], "group": GROUP_OF[c]}
    res = POP[c]["population"]
    fr = POP[c]["foreign_residents"]
    if state == "suppressed":
        row.update(suppressed=True, display="suppressed", rate=withheld("suppressed"),
                   per_1000_residents=withheld("suppressed"), per_1000_foreign_residents=withheld("suppressed"))
    elif state == "below":
        row.update(suppressed=False, display=f"<10 / {den}", denominator=den, rate=withheld("below_display_threshold"),
                   count=den, per_1000_residents=count_est(den, 1000 / res), per_1000_foreign_residents=count_est(den, 1000 / fr))
    else:
        row.update(suppressed=False, display=f"{num} / {den}", numerator=num, denominator=den, rate=rate(num, den),
                   count=den, per_1000_residents=count_est(den, 1000 / res), per_1000_foreign_residents=count_est(den, 1000 / fr))
    return row


def region_of(cs):
    contrib = [c for c in CODES if cs[c][2] != "suppressed"]
    n = sum(cs[c][0] for c in contrib)
    d = sum(cs[c][1] for c in contrib)
    return {"rate": rate(n, d), "numerator": n, "denominator": d,
            "coverage": coverage(contrib, [c for c in CODES if cs[c][2] == "suppressed"])}


def write(name, obj):
    with open(os.path.join(HERE, name), "w") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def title(i):
    return {"it": i["title"]["it"], "en": i["title"]["en"]}


bd = {b["id"]: b for b in cat["breakdowns"]}
meta = {"region": tf["region"], "epochs": EPOCHS, "latest_annual": "2025",
        "indicators": [{"id": i["id"], "version": "1", "kind": i["kind"], "title": title(i), "description": i["definition"],
                        "measures": ["numerator", "denominator"] if i["kind"] == "ratio" else [i["kind"]],
                        "breakdowns": [{"id": b, "title": bd[b]["title"], "values": bd[b]["values"]} for b in i["breakdowns"]],
                        "period_kinds": i["period_kinds"]} for i in cat["indicators"]],
        "territories": TS,
        "groups": [{"id": g, "band": g.split("/")[0], "tercile": int(g[-1]), "members": ms,
                    "title": {"it": BAND[g.split("/")[0]][0] + ", " + TERC[int(g[-1])][0], "en": BAND[g.split("/")[0]][1] + ", " + TERC[int(g[-1])][1]}}
                   for g, ms in GROUPS.items()],
        "sources": tf["sources"]}
write("meta.json", meta)

for epoch, scale in (("2025", 1.0), ("2025-Q4", 0.5)):
    rows = []
    for i in RATIO:
        cs = cells(i["id"], epoch, scale)
        reg = region_of(cs)
        pub = [(cs[c][0] / cs[c][1], c) for c in CODES if cs[c][2] == "ok"]
        row = {"indicator": i["id"], "title": title(i), "region": reg["rate"], "coverage": reg["coverage"],
               "territories_published": len(pub)}
        if pub:
            lo, hi = min(pub), max(pub)
            row.update({"min": {"territory": lo[1], "value": round(lo[0], 4)}, "max": {"territory": hi[1], "value": round(hi[0], 4)}})
        rows.append(row)
        if epoch != "2025":
            continue
        terr = [territory_row(c, cs) for c in CODES]
        write(f"indicator-{i['id']}-{epoch}.json", {
            "indicator": i["id"], "version": "1", "kind": "ratio", "epoch": epoch, "breakdown": {}, "region": reg,
            "territories": terr, "groups": [group_rate(g, ms, cs) for g, ms in GROUPS.items()],
            "coverage": coverage([c for c in CODES if cs[c][2] == "ok"], [c for c in CODES if cs[c][2] == "suppressed"], (),
                                 [c for c in CODES if cs[c][2] == "below"])})
        # Scalability: the outcome against caseload and cost per pathway.
        for axis in ("caseload", "cost_per_pathway_eur"):
            pts, om = [], []
            for c in CODES:
                if cs[c][2] != "ok":
                    om.append({"territory": c, "y": "suppressed" if cs[c][2] == "suppressed" else "below_display_threshold"})
                    continue
                if axis == "caseload":
                    n = int(POP[c]["population"] / 1000 * random.Random(c).uniform(0.5, 0.9))
                    x = count_est(n)
                else:
                    v = random.Random(c + "€").uniform(2400, 6200)
                    x = {"published": True, "value": round(v, 2), "low": round(v * 0.93, 2), "high": round(v * 1.07, 2)}
                pts.append({"territory": c, "x": x, "y": rate(cs[c][0], cs[c][1])})
            write(f"scalability-{i['id']}-{epoch}-{axis}.json", {"epoch": epoch, "x": axis, "points": pts, "omitted": om,
                                                                 "coverage": coverage([p["territory"] for p in pts], [o["territory"] for o in om if o["y"] == "suppressed"], (), [o["territory"] for o in om if o["y"] != "suppressed"])})
    write(f"overview-{epoch}.json", {"epoch": epoch, "rows": rows})

# Trends: eight quarters, rolling four-quarter windows.
QS = ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
for i in RATIO:
    qcells = {q: cells(i["id"], q, 0.5) for q in QS}
    def series(codes, label):
        pts, gaps = [], []
        for k, q in enumerate(QS):
            if any(qcells[q][c][2] == "suppressed" for c in codes) and len(codes) == 1:
                gaps.append({"epoch": q, "reason": "suppressed"})
        gapq = {g["epoch"] for g in gaps}
        for k in range(3, len(QS)):
            win = QS[k - 3:k + 1]
            if gapq & set(win):
                continue
            n = sum(qcells[q][c][0] for q in win for c in codes if qcells[q][c][2] != "suppressed")
            d = sum(qcells[q][c][1] for q in win for c in codes if qcells[q][c][2] != "suppressed")
            if n < 10:
                pts.append({"epoch": QS[k], "from": win[0], "rate": withheld("below_display_threshold")})
            else:
                pts.append({"epoch": QS[k], "from": win[0], "numerator": n, "denominator": d, "rate": rate(n, d)})
        return {"territory": label, "points": pts, "gaps": gaps}
    write(f"trend-{i['id']}.json", {"indicator": i["id"], "territories": [series([c], c) for c in CODES], "region": series(CODES, "")})

# Territory profiles.
all_cells = {i["id"]: cells(i["id"], "2025") for i in RATIO}
for t in TS:
    c = t["code"]
    rows = []
    for i in RATIO:
        cs = all_cells[i["id"]]
        tr = territory_row(c, cs)
        rows.append({"indicator": i["id"], "title": title(i), "value": tr["rate"], "display": tr["display"],
                     "peers": group_rate("peers:" + c, sorted(t["peers"]), cs), "group": group_rate(t["group"], GROUPS[t["group"]], cs),
                     "region": region_of(cs)["rate"]})
    write(f"territory-{c}-2025.json", {"territory": t, "epoch": "2025", "rows": rows})

# ---- Breakdowns -------------------------------------------------------------
# A breakdown cell (annual releases only) carries far more noise than a total:
# σ² = 384 (sd 19.6) against 80/7 (README "Federation"), so a territory's
# breakdown rate is wide, often clipped or withheld, and only the region's and
# the groups' pooled values are narrow enough to read.
BD_NOISE_SD = 19.6
BD_MIN_RATE_DEN = 50  # a noisy denominator under this gives no rate
SHARE = {"sex": {"F": 0.47, "M": 0.50, "U": 0.01, "unknown": 0.02},
         "citizenship-group": {"italian": 0.58, "eu": 0.08, "non-eu": 0.30, "stateless": 0.01, "unknown": 0.03}}
SHIFT = {"F": 0.03, "M": -0.02, "italian": 0.02, "non-eu": -0.05, "eu": 0.0}
BD_FIXTURES = [("referral-acceptance", "sex", v) for v in SHARE["sex"]] + \
              [("referral-acceptance", "citizenship-group", v) for v in SHARE["citizenship-group"]] + \
              [("employment-rate", "sex", "F"), ("employment-rate", "sex", "M")]


def noisy_rate(num, den, sd_noise, parts=1):
    p = min(1.0, max(0.0, num / den))
    # The numerator and the rest of the denominator are noised apart (one
    # table), so the rate's noise variance is ((1-p)² + p²)·σ²/den².
    sd = math.sqrt(max(p * (1 - p), 0.25 / den) / den + ((1 - p) ** 2 + p ** 2) * parts * (sd_noise / den) ** 2)
    lo, hi = p - 1.96 * sd, p + 1.96 * sd
    return est(p, lo, hi, clipped=lo < 0 or hi > 1)


def bd_cells(ind, dim, val):
    """Per-territory noisy (numerator, denominator, state) of one breakdown cell."""
    total = cells(ind, "2025")
    r = random.Random(zlib.crc32(f"{ind}/{dim}:{val}".encode()))
    out = {}
    for c in CODES:
        num, den, _ = total[c]
        tden = den * SHARE[dim][val] * r.uniform(0.8, 1.2)
        tnum = tden * min(0.97, max(0.03, num / den + SHIFT.get(val, 0) + r.gauss(0, 0.03)))
        if tnum < 3 or tden < 3:  # true count under 3: suppressed before noise
            out[c] = (0, 0, "suppressed")
            continue
        n = max(0, int(round(tnum + r.gauss(0, BD_NOISE_SD))))
        d = max(n, int(round(tden + r.gauss(0, BD_NOISE_SD))))
        state = "below" if n < 10 else "nodenom" if d < BD_MIN_RATE_DEN else "ok"
        out[c] = (n, d, state)
    return out


def bd_row(c, cs):
    num, den, state = cs[c]
    row = {"code": c, "name": NAME[c], "group": GROUP_OF[c]}
    res, fr = POP[c]["population"], POP[c]["foreign_residents"]
    if state == "suppressed":
        row.update(suppressed=True, display="suppressed", rate=withheld("suppressed"),
                   per_1000_residents=withheld("suppressed"), per_1000_foreign_residents=withheld("suppressed"))
        return row
    pc = lambda per: {"published": True, "value": round(den * per, 3), "low": round(max(0, den - 39) * per, 3), "high": round((den + 39) * per, 3)}
    row.update(suppressed=False, denominator=den, count=den, per_1000_residents=pc(1000 / res), per_1000_foreign_residents=pc(1000 / fr))
    if state == "below":
        row.update(display=f"<10 / {den}", rate=withheld("below_display_threshold"))
    elif state == "nodenom":
        row.update(display=f"{num} / {den}", numerator=num, rate=withheld("denominator_below_minimum"))
    else:
        row.update(display=f"{num} / {den}", numerator=num, rate=noisy_rate(num, den, BD_NOISE_SD))
    return row


def bd_pool(codes, cs):
    """Pooled rate over the members that published the cell (not suppressed)."""
    used = [c for c in codes if cs[c][2] != "suppressed"]
    n, d = sum(cs[c][0] for c in used), sum(cs[c][1] for c in used)
    if not used:
        return withheld("no_contributor"), used, n, d
    if n < 10:
        return withheld("below_display_threshold"), used, n, d
    return noisy_rate(n, d, BD_NOISE_SD, len(used)), used, n, d


def bd_group(gid, members, cs):
    pub = [c for c in members if cs[c][2] == "ok"]
    sup = [c for c in members if cs[c][2] == "suppressed"]
    wh = [c for c in members if cs[c][2] in ("below", "nodenom")]
    if pub:
        rates = [cs[c][0] / cs[c][1] for c in pub]
        m = sum(rates) / len(rates)
        var = sum(max(p * (1 - p), 0.01) / cs[c][1] + ((1 - p) ** 2 + p ** 2) * (BD_NOISE_SD / cs[c][1]) ** 2 for p, c in zip(rates, pub)) / len(pub) ** 2
        lo, hi = m - 1.96 * math.sqrt(var), m + 1.96 * math.sqrt(var)
        mean = est(m, lo, hi, clipped=lo < 0 or hi > 1)
    else:
        mean = withheld("no_contributor")
    pooled, used, n, d = bd_pool(members, cs)
    return {"group": gid, "mean": mean, "mean_coverage": coverage(pub, sup, (), wh), "pooled": pooled,
            "pooled_numerator": n, "pooled_denominator": d, "pooled_coverage": coverage(used, sup)}


def bd_indicator(ind, dim, val, codes):
    cs = bd_cells(ind, dim, val)
    pooled, used, n, d = bd_pool(codes, cs)
    sup = [c for c in codes if cs[c][2] == "suppressed"]
    groups = {g: [c for c in ms if c in codes] for g, ms in GROUPS.items()}
    return {"indicator": ind, "version": "1", "kind": "ratio", "epoch": "2025", "breakdown": {dim: val},
            "region": {"rate": pooled, "numerator": n, "denominator": d, "coverage": coverage(used, sup)},
            "territories": [bd_row(c, cs) for c in codes],
            "groups": [bd_group(g, ms, cs) for g, ms in groups.items() if ms] if len(codes) > 1 else [],
            "coverage": coverage([c for c in codes if cs[c][2] == "ok"], sup, (), [c for c in codes if cs[c][2] in ("below", "nodenom")])}


def bd_file(ind, dim, val):
    # No ':' in a file name (Windows checkouts): indicator-ID-EPOCH-bd-DIM-VALUE.json.
    return f"indicator-{ind}-2025-bd-{dim}-{val}.json"


for ind, dim, val in BD_FIXTURES:
    write(bd_file(ind, dim, val), bd_indicator(ind, dim, val, CODES))

# ---- Territory scope --------------------------------------------------------
# `snodo run` serves the same API over one territory's own released
# envelopes: meta.scope "territory", one territory, no groups or peers; the
# "region" values are that territory's own. Written to territory/.
SCOPE = "TOS-LI"
TDIR = os.path.join(HERE, "territory")
os.makedirs(TDIR, exist_ok=True)


def twrite(name, obj):
    with open(os.path.join(TDIR, name), "w") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


own = dict(POP[SCOPE], group="", peers=[])
twrite("meta.json", dict(meta, scope="territory", territories=[own], groups=[]))
ONE = [SCOPE]
for epoch, scale in (("2025", 1.0), ("2025-Q4", 0.5)):
    rows = []
    for i in RATIO:
        cs = cells(i["id"], epoch, scale)
        st = cs[SCOPE][2]
        own_rate = territory_row(SCOPE, cs)["rate"]
        cov = coverage(ONE if st != "suppressed" else [], ONE if st == "suppressed" else [])
        row = {"indicator": i["id"], "title": title(i), "region": own_rate, "coverage": cov, "territories_published": int(st == "ok")}
        if st == "ok":
            v = round(cs[SCOPE][0] / cs[SCOPE][1], 4)
            row.update({"min": {"territory": SCOPE, "value": v}, "max": {"territory": SCOPE, "value": v}})
        rows.append(row)
        if epoch != "2025":
            continue
        num, den, _ = cs[SCOPE]
        reg = {"rate": own_rate, "coverage": cov}
        if st != "suppressed":
            reg.update(numerator=num, denominator=den)
        twrite(f"indicator-{i['id']}-{epoch}.json", {
            "indicator": i["id"], "version": "1", "kind": "ratio", "epoch": epoch, "breakdown": {}, "region": reg,
            "territories": [dict(territory_row(SCOPE, cs), group="")], "groups": [],
            "coverage": coverage(ONE if st == "ok" else [], ONE if st == "suppressed" else [], (), ONE if st == "below" else [])})
    twrite(f"overview-{epoch}.json", {"epoch": epoch, "rows": rows})

for i in RATIO:
    tr = json.load(open(os.path.join(HERE, f"trend-{i['id']}.json")))
    mine = [t for t in tr["territories"] if t["territory"] == SCOPE]
    twrite(f"trend-{i['id']}.json", {"indicator": i["id"], "territories": mine, "region": dict(mine[0], territory="region")})

rows = []
for i in RATIO:
    cs = all_cells[i["id"]]
    tr = territory_row(SCOPE, cs)
    none = withheld("no_contributor")
    rows.append({"indicator": i["id"], "title": title(i), "value": tr["rate"], "display": tr["display"],
                 "peers": {"group": "peers:" + SCOPE, "mean": none, "mean_coverage": coverage([]), "pooled": none,
                           "pooled_numerator": 0, "pooled_denominator": 0, "pooled_coverage": coverage([])},
                 "group": None, "region": tr["rate"]})
twrite(f"territory-{SCOPE}-2025.json", {"territory": own, "epoch": "2025", "rows": rows})

for ind, dim, val in BD_FIXTURES[:4]:
    twrite(bd_file(ind, dim, val), bd_indicator(ind, dim, val, ONE))
