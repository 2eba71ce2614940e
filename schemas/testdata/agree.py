#!/usr/bin/env python3
"""Judge Snodo's schema fixtures with an independent JSON Schema 2020-12
validator (Debian's python3-jsonschema) and print one JSON line per fixture:
{"file": ..., "valid": bool, "pointers": [...]}.

The Go test TestFixturesAgreeWithIndependentValidator compares these
verdicts with the Go validator's. Code-list schemas are derived from
schemas/codes/*.json by the rule in docs/codelist-format.md; the custom
formats are implemented here again, from DOMAIN.md, not shared with Go.

Usage: agree.py SCHEMAS_DIR
"""
import datetime
import glob
import json
import os
import re
import sys

import jsonschema
from jsonschema import Draft202012Validator, FormatChecker, RefResolver

root = sys.argv[1]

store = {}
entity = {}
for path in sorted(glob.glob(os.path.join(root, "*.schema.json"))):
    with open(path, encoding="utf-8") as f:
        s = json.load(f)
    store[s["$id"]] = s
    name = os.path.basename(path)[: -len(".schema.json")]
    if name != "common":
        entity[name] = s

for path in sorted(glob.glob(os.path.join(root, "codes", "*.json"))):
    if path.endswith(".schema.json"):
        continue
    with open(path, encoding="utf-8") as f:
        cl = json.load(f)
    codes = [c["code"] for c in cl["codes"]]
    if cl["closed"]:
        gen = {"$id": cl["system"], "type": "string", "enum": codes}
    else:
        gen = {
            "$id": cl["system"],
            "type": "object",
            "properties": {
                "system": {"const": cl["system"]},
                "code": {"enum": codes},
                "display": {"type": "string", "maxLength": 200},
            },
            "required": ["system", "code"],
            "additionalProperties": False,
        }
    store[cl["system"]] = gen

with open(os.path.join(root, "places", "comuni.json"), encoding="utf-8") as f:
    comuni = {c["istat"] for c in json.load(f)}
with open(os.path.join(root, "places", "countries.json"), encoding="utf-8") as f:
    countries = {c["cadastral"] for c in json.load(f)}

checker = FormatChecker(formats=())

ODD = {}
for i, ch in enumerate("0123456789"):
    ODD[ch] = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21][i]
for i, ch in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ"):
    ODD[ch] = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23][i]
OMO = "LMNPQRSTUV"


@checker.checks("codice-fiscale")
def is_cf(v):
    if not isinstance(v, str):
        return True
    if not re.fullmatch(r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]", v):
        return False
    plain = "".join(str(OMO.index(c)) if i in (6, 7, 9, 10, 12, 13, 14) and c in OMO else c for i, c in enumerate(v))
    day = int(plain[9:11])
    if not (1 <= day <= 31 or 41 <= day <= 71):
        return False
    month = "ABCDEHLMPRST".index(plain[8]) + 1
    if day > 40:
        day -= 40
    if day > [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]:
        return False
    total = 0
    for i, c in enumerate(v[:15]):
        if i % 2 == 0:  # 1st, 3rd, ... character: odd position
            total += ODD[c]
        else:
            total += int(c) if c.isdigit() else ord(c) - ord("A")
    return v[15] == chr(ord("A") + total % 26)


@checker.checks("cf-provisional")
def is_provisional(v):
    if not isinstance(v, str):
        return True
    if not re.fullmatch(r"[0-9]{11}", v):
        return False
    total = 0
    for i, c in enumerate(v[:10]):
        d = int(c)
        if i % 2 == 0:
            total += d
        else:
            total += (2 * d) // 10 + (2 * d) % 10
    return int(v[10]) == (10 - total % 10) % 10


@checker.checks("istat-comune")
def is_comune(v):
    return not isinstance(v, str) or v in comuni


@checker.checks("country")
def is_country(v):
    return not isinstance(v, str) or v == "IT" or v in countries


@checker.checks("date")
def is_date(v):
    if not isinstance(v, str):
        return True
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v):
        return False
    try:
        datetime.date(int(v[:4]), int(v[5:7]), int(v[8:10]))
    except ValueError:
        return False
    return True


@checker.checks("date-time")
def is_date_time(v):
    if not isinstance(v, str):
        return True
    m = re.fullmatch(r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|[+-]([0-9]{2}):([0-9]{2}))", v)
    if not m or not is_date(m.group(1)):
        return False
    h, mi, s = int(m.group(2)), int(m.group(3)), int(m.group(4))
    if h > 23 or mi > 59 or s > 60:
        return False
    if m.group(7) is not None and (int(m.group(7)) > 23 or int(m.group(8)) > 59):
        return False
    return True


@checker.checks("uri")
def is_uri(v):
    return not isinstance(v, str) or re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+", v) is not None


def pointer(path):
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


UNEXPECTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def pointers(err, out):
    """Every leaf error's instance pointer; a closed-content error points at
    each unexpected property, as the Go validator does."""
    if err.context:
        for sub in err.context:
            pointers(sub, out)
        return
    base = pointer(err.absolute_path)
    if err.validator in ("unevaluatedProperties", "additionalProperties") and err.validator_value is False:
        inner = err.message[err.message.find("(") :]
        for name in UNEXPECTED.findall(inner):
            out.add(base + "/" + name.replace("~", "~0").replace("/", "~1"))
        return
    out.add(base)


validators = {}
for name, s in entity.items():
    Draft202012Validator.check_schema(s)
    resolver = RefResolver.from_schema(s, store=store)
    validators[name] = Draft202012Validator(s, resolver=resolver, format_checker=checker)

for path in sorted(glob.glob(os.path.join(root, "testdata", "*", "*", "*.json"))):
    rel = os.path.relpath(path, root)
    name, kind = rel.split(os.sep)[1:3]
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if kind == "invalid":
        doc = doc["document"]
    v = validators.get(name)
    if v is None:
        print(json.dumps({"file": rel, "error": "no schema named " + name}))
        continue
    found = set()
    for err in v.iter_errors(doc):
        pointers(err, found)
    print(json.dumps({"file": rel, "valid": not found, "pointers": sorted(found)}))
