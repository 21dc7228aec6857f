"""The request and response examples of Amili's documentation pages (tests/data/amili-docs/*.txt), parsed as written."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

DOCS_DIR = Path(__file__).resolve().parents[1] / "data" / "amili-docs"

# Each page's API family prefix on the sandbox (the pages show paths relative to the family's base URL).
PREFIX = {"arm": "/arm", "collection": "/collection/v1", "ada": "/ada"}

_CURL = re.compile(r"curl --location --request (?P<method>[A-Z]+) '(?P<path>[^']*)'.*?--data-raw '(?P<body>.*?)'\n", re.S)
_ARM_RESPONSE = re.compile(r"Response Response Example\n(?P<status>\d{3}) - [^\n]*\n(?P<body>.*?)\nModified at", re.S)
_ADA = re.compile(
    r"URL: (?P<method>[A-Z]+) (?P<path>\S+).*?Request Body:\njson\n(?P<body>\{.*?\})Response Code: (?P<status>\d{3}).*?"
    r"Response Body:\njson\n(?P<response>\{.*?\})Parameters",
    re.S,
)


@dataclass(frozen=True)
class DocExample:
    """One page's request example and its documented answer."""

    page: str  # file name
    family: str  # arm | collection | ada
    method: str
    path: str  # as the page writes it, path parameters left empty
    body: bytes  # exactly the bytes the page shows
    status: int
    response: Any  # the documented response body, parsed


def load_examples() -> list[DocExample]:
    """Every request example of every page, in file-name order."""
    examples = []
    for page in sorted(DOCS_DIR.glob("*.txt")):
        text = page.read_text(encoding="utf-8")
        family = page.name.split("-", 1)[0]
        if family == "ada":
            m = _ADA.search(text)
            assert m, f"{page.name}: no example found"
            examples.append(
                DocExample(page.name, family, m["method"], m["path"], m["body"].encode(), int(m["status"]), orjson.loads(m["response"]))
            )
            continue
        request, response = _CURL.search(text), _ARM_RESPONSE.search(text)
        assert request and response, f"{page.name}: no example found"
        answer = orjson.loads(response["body"])
        if isinstance(answer, str):  # the Collection page shows its JSON answer as a JSON string
            answer = orjson.loads(answer)
        examples.append(
            DocExample(page.name, family, request["method"], request["path"], request["body"].encode(), int(response["status"]), answer)
        )
    return examples


def sandbox_path(example: DocExample, clientno: int, method: str) -> str:
    """The example's path on the sandbox: the family prefix, empty path parameters filled in."""
    path = example.path
    path = path.replace("/clients//", f"/clients/{clientno}/")
    if path.endswith("/autopostings/"):
        path += method
    if "/orgs//" in path:
        org = orjson.loads(example.body)["organizationId"]
        path = path.replace("/orgs//", f"/orgs/{org}/")
    return PREFIX[example.family] + path


def same_shape(documented: Any, ours: Any, where: str = "$") -> list[str]:
    """Where `ours` lacks a documented field or has another JSON type there ([] when the shape matches)."""
    def kind(value: Any) -> str:
        if isinstance(value, bool) or value is None:
            return type(value).__name__
        return "number" if isinstance(value, (int, float)) else type(value).__name__

    if kind(documented) != kind(ours):
        return [f"{where}: documented {kind(documented)}, got {kind(ours)}"]
    problems = []
    if isinstance(documented, dict):
        for key, value in documented.items():
            if key not in ours:
                problems.append(f"{where}.{key}: missing")
            else:
                problems += same_shape(value, ours[key], f"{where}.{key}")
    elif isinstance(documented, list) and documented and ours:
        for i, item in enumerate(ours):
            problems += same_shape(documented[0], item, f"{where}[{i}]")
    return problems
