"""Scoring template extraction on a labelled split (``tests/data/script_extraction*.json``).

- recall: the share of ``must`` literals that no longer appear in the templated body (they
  became parameters);
- precision: the share of proposed parameters that are right: their default is a ``must``
  literal, or they are secrets and the case has a ``must`` secret;
- kept: the share of ``keep`` literals still in the body (the fix itself was not parameterised).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from flowpilot_core.scripts import TemplateExtractionService

DATA = Path(__file__).resolve().parents[1] / "data"
FILES = {"tuning": "script_extraction.json", "heldout": "script_extraction_heldout.json"}


@dataclass
class Score:
    split: str
    found: int = 0
    must: int = 0
    right_params: int = 0
    params: int = 0
    kept: int = 0
    keep: int = 0
    missed: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.must if self.must else 1.0

    @property
    def precision(self) -> float:
        return self.right_params / self.params if self.params else 1.0

    @property
    def kept_share(self) -> float:
        return self.kept / self.keep if self.keep else 1.0

    def line(self) -> str:
        return (
            f"split={self.split} cases={len(cases(self.split))} precision={self.precision:.2f} "
            f"recall={self.recall:.2f} kept={self.kept_share:.2f} "
            f"(parameters {self.right_params}/{self.params}, literals {self.found}/{self.must}, "
            f"kept {self.kept}/{self.keep})"
        )


def cases(split: str) -> list[dict]:
    data = json.loads((DATA / FILES[split]).read_text(encoding="utf-8"))
    return list(data["cases"])


def _in_body(literal: str, body: str, language: str) -> bool:
    # A literal the extraction left alone may have been written with quotes doubled in the source.
    return literal in body or (language == "powershell" and literal.replace("'", "''") in body)


def score(split: str) -> Score:
    service = TemplateExtractionService()
    result = Score(split)
    for case in cases(split):
        extraction = service.extract(case["script"], case["language"])
        body = extraction.body
        musts = case["must"]
        values = {m["value"] for m in musts}
        for must in musts:
            result.must += 1
            if _in_body(must["value"], body, case["language"]):
                result.missed.append(f"{case['id']}: {must['value']}")
            else:
                result.found += 1
        has_secret = any(m.get("secret") for m in musts)
        for spec in extraction.parameter_schema.parameters:
            result.params += 1
            right = spec.default in values if spec.default is not None else (spec.is_sensitive and has_secret)
            if right:
                result.right_params += 1
            else:
                result.wrong.append(f"{case['id']}: {spec.name}={spec.default!r}")
        for keep in case["keep"]:
            result.keep += 1
            if _in_body(keep, body, case["language"]):
                result.kept += 1
            else:
                result.wrong.append(f"{case['id']}: parameterised {keep!r}, which is part of the fix")
    return result
