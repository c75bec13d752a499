"""Scripts engine: templates, safe rendering, matching, prefill, generations, extraction, drafts.

- :mod:`~flowpilot_core.scripts.schema`: the parameter schema (msgspec structs) and its checks
- :mod:`~flowpilot_core.scripts.values`: typed validation of a parameter value
- :mod:`~flowpilot_core.scripts.quoting`: a value as an inert PowerShell or bash literal
- :mod:`~flowpilot_core.scripts.render`: the sandboxed Jinja2 body, every output quoted
- :mod:`~flowpilot_core.scripts.slots`: where an output may stand (never inside a string or comment)
- :mod:`~flowpilot_core.scripts.commands`: which commands a script runs, and which are unknown
- :mod:`~flowpilot_core.scripts.library`: ``script_templates`` CRUD, search, pending-drafts count
- :mod:`~flowpilot_core.scripts.matching`: the matcher protocol and merging (``keyword_matcher`` is the built-in plugin)
- :mod:`~flowpilot_core.scripts.prefill`: parameter values from facts, ticket, account and PSA, with sources
- :mod:`~flowpilot_core.scripts.generations`: stored (redacted) script generations
- :mod:`~flowpilot_core.scripts.tokens`, :mod:`~flowpilot_core.scripts.literals`,
  :mod:`~flowpilot_core.scripts.extraction`: ``TemplateExtractionService`` (deterministic), and
  :mod:`~flowpilot_core.scripts.model_extraction`: the model pass that may add to it
- :mod:`~flowpilot_core.scripts.generator`, :mod:`~flowpilot_core.scripts.service`: the one-off script call
  and the three no-template options
- :mod:`~flowpilot_core.scripts.drafts`: draft templates and the templatize prompt
"""

from flowpilot_core.scripts.commands import CommandUse, check_commands, known_commands
from flowpilot_core.scripts.drafts import (
    AcceptDraft,
    DraftList,
    DraftOut,
    SkipDraft,
    TemplatizePrompt,
    accept_draft,
    get_draft,
    list_drafts,
    skip_draft,
    templatize_prompt,
)
from flowpilot_core.scripts.extraction import ExtractionResult, TemplateExtractionService, redact_secret_literals
from flowpilot_core.scripts.generations import (
    GenerateFromTemplate,
    GenerationOut,
    generate_from_template,
    list_generations,
)
from flowpilot_core.scripts.library import (
    TemplateIn,
    TemplateList,
    TemplateOut,
    TemplatePatch,
    create_template,
    delete_template,
    get_template,
    list_templates,
    update_template,
)
from flowpilot_core.scripts.matching import (
    FixQuery,
    TemplateDoc,
    TemplateMatch,
    TemplateMatcher,
    TemplateScore,
    merge_matches,
)
from flowpilot_core.scripts.prefill import Prefill, PrefilledValue, ValueSource, prefill
from flowpilot_core.scripts.quoting import quote_bash, quote_powershell, quote_value
from flowpilot_core.scripts.render import REDACTED, render_body, render_template, resolve_values
from flowpilot_core.scripts.schema import Language, ParameterSchema, ParameterSpec, ParameterType, check_schema
from flowpilot_core.scripts.service import NoTemplateChoice, NoTemplateOutcome, ScriptService
from flowpilot_core.scripts.values import validate_value

__all__ = [
    "REDACTED",
    "AcceptDraft",
    "CommandUse",
    "DraftList",
    "DraftOut",
    "ExtractionResult",
    "FixQuery",
    "GenerateFromTemplate",
    "GenerationOut",
    "Language",
    "NoTemplateChoice",
    "NoTemplateOutcome",
    "ParameterSchema",
    "ParameterSpec",
    "ParameterType",
    "Prefill",
    "PrefilledValue",
    "ScriptService",
    "SkipDraft",
    "TemplateDoc",
    "TemplateExtractionService",
    "TemplateIn",
    "TemplateList",
    "TemplateMatch",
    "TemplateMatcher",
    "TemplateOut",
    "TemplatePatch",
    "TemplateScore",
    "TemplatizePrompt",
    "ValueSource",
    "accept_draft",
    "check_commands",
    "check_schema",
    "create_template",
    "delete_template",
    "generate_from_template",
    "get_draft",
    "get_template",
    "known_commands",
    "list_drafts",
    "list_generations",
    "list_templates",
    "merge_matches",
    "prefill",
    "quote_bash",
    "quote_powershell",
    "quote_value",
    "redact_secret_literals",
    "render_body",
    "render_template",
    "resolve_values",
    "skip_draft",
    "templatize_prompt",
    "update_template",
    "validate_value",
]
