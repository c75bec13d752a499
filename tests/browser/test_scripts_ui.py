"""The inline script generator, the no-template dialog, the templatize prompt and the script library, in Chromium.

The plan's manual QA as two paths a technician walks: a fix that matches a template (its parameter prefilled from
a fact, generated, the value quoted in the script, Copy and Download offered, an unknown command flagged), and a
fix with no template (Run now, templatize after resolve; resolve; the prompt appears; Accept saves a template that
the Script Library shows with its provenance). Real server and database, the scripted model for the one call the
one-off script needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from flowpilot_core.testing.fake_psa import FakePSA
from tests.browser.conftest import PageErrors, axe_violations
from tests.browser.scripted_model import ScriptedModel
from tests.browser.test_resolve_ui import SPOOLER_STOPPED, Technician, lane_section, open_preview
from tests.conftest import LiveServer, Tenant

pytestmark = pytest.mark.browser

OpenPilot = Callable[..., Page]

SPOOLER_TEMPLATE: dict[str, Any] = {
    "name": "Restart-PrintSpooler",
    "description": "Restart the Print Spooler service on a PC",
    "language": "powershell",
    "tags": ["printing", "spooler"],
    "body": (
        "Invoke-Command -ComputerName {{ computer }} -ScriptBlock { Restart-Service -Name Spooler -Force }\n"
        "Clear-SpoolerQueue -ComputerName {{ computer }}\n"
        "Write-Output ('Restarted for ' + {{ requester }})\n"
    ),
    "parameter_schema": {
        "parameters": [
            {"name": "computer", "label": "Computer", "type": "hostname"},
            {"name": "requester", "label": "Requester", "type": "string", "required": False},
        ]
    },
}
ONE_OFF_NAME = "Restart-Spooler.ps1"
ONE_OFF_SCRIPT = (
    "$ComputerName = 'WS-ACC-04'\n"
    "Invoke-Command -ComputerName $ComputerName -ScriptBlock { Restart-Service -Name Spooler -Force }\n"
    "Get-Service -ComputerName $ComputerName -Name Spooler\n"
)


@pytest.fixture(scope="session")
def live_server(scripted_server: LiveServer) -> LiveServer:
    return scripted_server


@pytest.fixture
def tech(live_server: LiveServer, tenant: Tenant, model: ScriptedModel, fake_psa: FakePSA) -> Iterator[Technician]:
    yield Technician(live_server, tenant, model, fake_psa)


def library_call(live_server: LiveServer, tenant: Tenant, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, f"{live_server.url}/api/v1{path}", headers=tenant.headers(), timeout=15, **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def generator(page: Page) -> Any:
    dialog = page.locator("dialog[data-dialog=script-generator]")
    expect(dialog).to_be_visible()
    return dialog


def test_a_matched_template_is_prefilled_from_a_fact_generated_with_the_value_quoted_and_offered_for_copy(
    open_pilot: OpenPilot,
    tech: Technician,
    live_server: LiveServer,
    tenant: Tenant,
    context: BrowserContext,
    page_errors: PageErrors,
) -> None:
    template = library_call(live_server, tenant, "POST", "/script-templates", json=SPOOLER_TEMPLATE)
    sid, facts = tech.with_facts_and_fix()
    page = open_pilot(sid)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)

    lane_section(page, "suggested-fix").locator("[data-action=open-script]").click()
    dialog = generator(page)
    panel = dialog.locator("fp-template-match-panel")
    match = panel.locator(f".fp-match[data-template-id='{template['id']}']")
    expect(match.locator(".fp-match__name")).to_have_text("Restart-PrintSpooler")
    expect(match.locator(".fp-match__score")).to_have_text(f"Score {round(_score(tech, sid, template) * 100)}%")
    expect(match.locator(".fp-match__reason")).to_contain_text("shared words:")
    expect(match.locator(".fp-match__reason")).to_contain_text("spooler")
    assert axe_violations(page, include="dialog[data-dialog=script-generator]") == []
    match.click()

    # The host comes from the fact that names it, and the form says so; the optional value is empty.
    expect(dialog.locator("h2")).to_have_text("Restart-PrintSpooler")
    computer = dialog.locator("input[data-param=computer]")
    expect(computer).to_have_value("WS-ACC-04")
    source = dialog.locator(".fp-params__field[data-param=computer] .fp-params__source")
    expect(source).to_have_attribute("data-source", "fact")
    expect(source).to_have_attribute("data-source-id", facts[0]["id"])
    expect(source).to_contain_text("From What We Know")
    expect(source.locator("q")).to_have_text(SPOOLER_STOPPED)
    expect(dialog.locator("input[data-param=requester]")).to_have_value("")
    preview = dialog.locator("fp-parameterization-preview")
    expect(preview).to_have_attribute("data-state", "preview")
    expect(preview.locator("mark[data-parameter=computer]").first).to_have_text("'WS-ACC-04'")
    # An empty value shows its name as a placeholder.
    expect(preview.locator("mark[data-parameter=requester]")).to_have_text("\u2039requester\u203a")
    # The preview follows the form as the technician types, each value quoted as a PowerShell literal.
    dialog.locator("input[data-param=requester]").fill("O'Brien; Remove-Item C:\\")
    expect(preview.locator("mark[data-parameter=requester]")).to_have_text("'O''Brien; Remove-Item C:\\'")

    # A required value left empty is caught before anything renders or is stored.
    computer.fill("")
    dialog.locator("[data-action=generate]").click()
    expect(computer).to_be_focused()
    expect(computer).to_have_attribute("aria-invalid", "true")
    expect(dialog.locator(".fp-params__field[data-param=computer] .fp-params__error")).to_have_text(
        "Computer is required."
    )
    assert tech.call("GET", f"/{sid}/script-generations") == []
    computer.fill("WS-ACC-04")
    previewed = preview.locator("pre[data-preview]").inner_text()
    dialog.locator("[data-action=generate]").click()

    # The rendered script: every value a quoted literal; the unknown command flagged before Copy and Download.
    expect(preview).to_have_attribute("data-state", "script")
    script = preview.locator("pre[data-script]")
    expect(script).to_contain_text(
        "Invoke-Command -ComputerName 'WS-ACC-04' -ScriptBlock { Restart-Service -Name Spooler -Force }"
    )
    expect(script).to_contain_text("Write-Output ('Restarted for ' + 'O''Brien; Remove-Item C:\\')")
    assert script.inner_text() == previewed  # the live preview showed the script the server rendered
    warning = preview.locator(".fp-script__unknown")
    expect(warning).to_have_attribute("data-unknown-commands", "Clear-SpoolerQueue")
    expect(warning).to_contain_text("Clear-SpoolerQueue (line 2)")
    assert warning.evaluate(
        "(w) => !!(w.compareDocumentPosition(w.parentNode.querySelector('[data-action=copy-script]')) & 4)"
    ), "the warning stands before the Copy button"
    copy = preview.locator("[data-action=copy-script]")
    expect(copy).to_be_focused()
    expect(preview.locator("[data-action=download-script]")).to_have_attribute(
        "aria-label", "Download Restart-PrintSpooler.ps1"
    )
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == script.inner_text()
    with page.expect_download() as download:
        preview.locator("[data-action=download-script]").click()
    assert download.value.suggested_filename == "Restart-PrintSpooler.ps1"

    (stored,) = tech.call("GET", f"/{sid}/script-generations")
    assert (stored["template_id"], stored["path"]) == (template["id"], "template")
    assert "'WS-ACC-04'" in stored["script"]
    dialog.locator("[data-action=close-generator]").click()
    expect(dialog).to_have_count(0)
    expect(lane_section(page, "suggested-fix").locator("[data-action=open-script]")).to_be_focused()
    # Ctrl+G opens it again from anywhere in the session; Escape closes it.
    page.locator(".fp-session__title").click()
    page.keyboard.press("Control+g")
    expect(generator(page).locator(".fp-match")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(page.locator("dialog[data-dialog=script-generator]")).to_have_count(0)
    assert page_errors.errors == []


QUEUE_TEMPLATE: dict[str, Any] = {
    "name": "Clear-PrintQueue",
    "description": "Clear the stuck jobs of a print queue and restart the Print Spooler",
    "language": "powershell",
    "tags": ["printing", "spooler", "queue"],
    "body": "Get-PrintJob -ComputerName {{ computer }} -PrinterName {{ queue_name }} | Remove-PrintJob\n",
    "parameter_schema": {
        "parameters": [
            {"name": "computer", "label": "Computer", "type": "hostname"},
            {"name": "queue_name", "label": "Print queue", "type": "string"},
        ]
    },
}


def test_flowpilot_suggests_an_empty_value_only_from_what_the_session_says_and_keeps_what_was_typed(
    open_pilot: OpenPilot,
    tech: Technician,
    model: ScriptedModel,
    live_server: LiveServer,
    tenant: Tenant,
    page_errors: PageErrors,
) -> None:
    library_call(live_server, tenant, "POST", "/script-templates", json=QUEUE_TEMPLATE)
    sid, _ = tech.with_facts_and_fix()
    queue_fact = tech.note(sid, "The stuck queue is called ACC-Laser-2.")
    page = open_pilot(sid)
    lane_section(page, "suggested-fix").locator("[data-action=open-script]").click()
    dialog = generator(page)
    dialog.locator(".fp-match").first.click()
    queue = dialog.locator("input[data-param=queue_name]")
    expect(queue).to_have_value("")
    expect(dialog.locator(".fp-generator__missing")).to_contain_text("1 required value")
    computer = dialog.locator("input[data-param=computer]")
    computer.fill("WS-ACC-05")  # the technician's own value stays through the suggestion

    model.prefill(queue_name="ACC-Laser-2")
    dialog.locator("[data-action=suggest-values]").click()
    expect(queue).to_have_value("ACC-Laser-2")
    source = dialog.locator(".fp-params__field[data-param=queue_name] .fp-params__source")
    expect(source).to_have_attribute("data-source", "ai")
    expect(source).to_have_attribute("data-source-id", queue_fact["id"])
    expect(source).to_contain_text("Suggested by FlowPilot from What We Know")
    expect(source.locator("q")).to_have_text("The stuck queue is called ACC-Laser-2.")
    expect(dialog.locator(".fp-generator__status")).to_have_text(
        "FlowPilot found 1 value in the facts and the ticket: check it below."
    )
    expect(queue).to_be_focused()
    expect(computer).to_have_value("WS-ACC-05")
    (asked,) = [c for c in model.calls if c.spec.service == "script_prefill"]
    assert "queue_name" in asked.spec.request and '"computer"' not in asked.spec.request
    dialog.locator("[data-action=generate]").click()
    expect(dialog.locator("pre[data-script]")).to_have_text(
        "Get-PrintJob -ComputerName 'WS-ACC-05' -PrinterName 'ACC-Laser-2' | Remove-PrintJob\n"
    )
    assert page_errors.errors == []


def _score(tech: Technician, sid: str, template: dict[str, Any]) -> float:
    fix_id = tech.call("GET", f"/{sid}/suggested-fixes")["active"]["id"]
    matches = tech.call("GET", f"/{sid}/suggested-fixes/{fix_id}/template-matches")["matches"]
    return float(next(m["score"] for m in matches if m["template_id"] == template["id"]))


def test_a_one_off_run_now_templatized_after_resolve_becomes_a_template_in_the_library(
    open_pilot: OpenPilot,
    tech: Technician,
    model: ScriptedModel,
    live_server: LiveServer,
    tenant: Tenant,
    page_errors: PageErrors,
) -> None:
    sid, _ = tech.with_facts_and_fix()
    page = open_pilot(sid)
    badge = page.locator("#fp-drafts-count")
    expect(badge).to_be_hidden()

    # No template in the library: the dialog offers the three options.
    lane_section(page, "suggested-fix").locator("[data-action=open-script]").click()
    dialog = generator(page)
    expect(dialog).to_have_attribute("data-view", "no-template")
    expect(dialog.locator("h2")).to_have_text("No template fits this fix")
    expect(dialog.locator(".fp-option__title")).to_have_text(
        ["Run as one-off", "Run now, templatize after resolve", "Build as template now"]
    )
    assert axe_violations(page, include="dialog[data-dialog=script-generator]") == []
    model.script(ONE_OFF_NAME, ONE_OFF_SCRIPT)
    model.extraction()  # the model pass adds nothing to what the rules found
    dialog.locator(".fp-option[data-option=draft_template]").click()

    preview = dialog.locator("fp-parameterization-preview")
    expect(preview.locator("pre[data-script]")).to_have_text(ONE_OFF_SCRIPT)
    expect(preview.locator("[data-action=copy-script]")).to_be_visible()
    expect(preview.locator(".fp-script__unknown")).to_have_count(0)
    expect(dialog.locator(".fp-no-template__draft")).to_contain_text("When you resolve this session")
    expect(badge).to_have_text("1")
    dialog.locator("[data-action=close-generator]").click()
    card = lane_section(page, "suggested-fix").locator(".fp-fix")
    expect(card.locator(".fp-fix__decision .fp-badge")).to_have_text("Run now, templatize after resolving")

    # The topbar popover lists the pending draft.
    page.locator("#fp-drafts-trigger").click()
    expect(page.locator("#fp-drafts-popover .fp-drafts__name")).to_have_text([ONE_OFF_NAME])
    page.keyboard.press("Escape")

    # Resolve: the note names the script; after the post, the prompt offers to save it.
    note = open_preview(page)
    expect(note.locator(".fp-preview__note")).to_contain_text(f"Ran script: {ONE_OFF_NAME} (powershell")
    note.locator("[data-action=confirm]").click()
    prompt = note.locator("fp-templatize-prompt")
    expect(prompt).to_have_attribute("data-state", "shown")
    expect(prompt.locator(".fp-templatize__title")).to_have_text("Save the script as a template?")
    expect(prompt.locator("[data-action=skip-draft]")).to_be_visible()
    expect(prompt.locator("[data-action=dont-ask-again]")).to_have_text("Don't ask me again for this team")
    assert axe_violations(page, include="fp-note-preview") == []
    prompt.locator("[data-action=review-draft]").click()
    editor = prompt.locator("form[data-editor]")
    expect(editor.locator("[data-field=body]")).to_have_value(
        "$ComputerName = {{ computer_name }}\n"
        "Invoke-Command -ComputerName $ComputerName -ScriptBlock { Restart-Service -Name Spooler -Force }\n"
        "Get-Service -ComputerName $ComputerName -Name Spooler\n"
    )
    row = editor.locator("[data-param-row]")
    expect(row).to_have_count(1)
    expect(row.locator("[data-key=name]")).to_have_value("computer_name")
    expect(row.locator("[data-key=type]")).to_have_value("hostname")
    editor.locator("[data-field=name]").fill("Restart spooler on a PC")
    editor.locator("[data-field=tags]").fill("printing, spooler")
    row.locator("[data-key=label]").fill("Computer")
    editor.locator("[data-action=save-template]").click()
    expect(prompt.locator(".fp-templatize__done")).to_contain_text("Saved “Restart spooler on a PC”")
    expect(badge).to_be_hidden()

    (saved,) = library_call(live_server, tenant, "GET", "/script-templates")["items"]
    assert (saved["name"], saved["tags"], saved["source_session_id"]) == (
        "Restart spooler on a PC",
        ["printing", "spooler"],
        sid,
    )

    # The library shows it with its provenance, and finds it by a word of its body.
    prompt.locator("[data-action=open-library]").click()
    expect(page).to_have_url(f"{live_server.url}/pilot/scripts")
    library = page.locator("fp-script-library")
    expect(library).to_have_attribute("data-view", "template")
    template = library.locator(f"article[data-template-id='{saved['id']}']")
    expect(template.locator("h2")).to_have_text("Restart spooler on a PC")
    expect(template.locator("tr[data-param=computer_name] td").nth(1)).to_have_text("Computer")
    expect(template.locator("[data-provenance=source-session] a")).to_have_attribute("href", f"/pilot/{sid}")
    expect(template.locator("[data-provenance=saved-by]")).to_contain_text("You")
    assert axe_violations(page, include="fp-script-library") == []
    template.locator("[data-action=back-to-list]").click()
    search = library.locator("[data-action=search-templates]")
    search.fill("Invoke-Command spooler")
    expect(library.locator(".fp-library__row-name")).to_have_text(["Restart spooler on a PC"])
    search.fill("mailbox")
    expect(library.locator(".fp-empty__title")).to_have_text("No template matches “mailbox”")
    assert page_errors.errors == []


def test_the_library_edits_and_deletes_a_template_after_a_confirmation(
    open_pilot: OpenPilot, live_server: LiveServer, tenant: Tenant, page_errors: PageErrors
) -> None:
    template = library_call(live_server, tenant, "POST", "/script-templates", json=SPOOLER_TEMPLATE)
    page = open_pilot("scripts")
    library = page.locator("fp-script-library")
    expect(library).to_have_attribute("data-state", "ready")
    library.locator(f".fp-library__row[data-template-id='{template['id']}']").click()
    article = library.locator("article")
    expect(article.locator(".fp-script__unknown")).to_contain_text("Clear-SpoolerQueue")
    expect(article.locator("[data-provenance]").first).to_contain_text("Created")

    article.locator("[data-action=edit-template]").click()
    editor = library.locator("form[data-editor]")
    editor.locator("[data-field=body]").fill("Restart-Service -Name Spooler -Force -ComputerName {{ missing }}\n")
    editor.locator("[data-action=save-template]").click()
    # The server refuses a body naming a parameter the schema lacks: the error shows, nothing typed is lost.
    body_error = editor.locator("[data-field=body] + .fp-form-error")
    expect(body_error).to_contain_text("the parameter schema does not declare")
    expect(editor.locator("[data-field=body]")).to_have_attribute("aria-invalid", "true")
    expect(editor.locator("[data-field=body]")).to_be_focused()
    expect(editor.locator("[data-field=body]")).to_have_value(
        "Restart-Service -Name Spooler -Force -ComputerName {{ missing }}\n"
    )
    editor.locator("[data-field=body]").fill("Restart-Service -Name Spooler -Force -ComputerName {{ computer }}\n")
    editor.locator("[data-param-row]").nth(1).locator("[data-action=remove-parameter]").click()
    editor.locator("[data-field=description]").fill("Restarts the spooler (no more queue clearing)")
    editor.locator("[data-action=save-template]").click()
    expect(article.locator(".fp-library__description")).to_have_text("Restarts the spooler (no more queue clearing)")
    expect(article.locator(".fp-script__unknown")).to_have_count(0)
    expect(article.locator("tbody tr")).to_have_count(1)
    stored = library_call(live_server, tenant, "GET", f"/script-templates/{template['id']}")
    assert [p["name"] for p in stored["parameter_schema"]["parameters"]] == ["computer"]

    article.locator("[data-action=delete-template]").click()
    confirm = page.locator("dialog[data-dialog=delete-template]")
    expect(confirm).to_be_visible()
    confirm.locator("[data-action=cancel-delete]").click()
    expect(confirm).to_have_count(0)
    expect(article.locator("[data-action=delete-template]")).to_be_focused()
    article.locator("[data-action=delete-template]").click()
    page.locator("dialog[data-dialog=delete-template] [data-action=confirm-delete]").click()
    expect(library.locator(".fp-empty__title")).to_have_text("No templates yet")
    assert library_call(live_server, tenant, "GET", "/script-templates")["items"] == []
    assert page_errors.errors == []


def test_dont_ask_again_rejects_the_draft_turns_the_prompt_off_and_the_next_resolve_respects_it(
    open_pilot: OpenPilot,
    tech: Technician,
    model: ScriptedModel,
    live_server: LiveServer,
    tenant: Tenant,
    page_errors: PageErrors,
) -> None:
    def draft_and_resolve(page: Page) -> Any:
        lane_section(page, "suggested-fix").locator("[data-action=open-script]").click()
        model.script(ONE_OFF_NAME, ONE_OFF_SCRIPT)
        model.extraction()
        generator(page).locator(".fp-option[data-option=draft_template]").click()
        expect(generator(page).locator("pre[data-script]")).to_be_visible()
        generator(page).locator("[data-action=close-generator]").click()
        note = open_preview(page)
        note.locator("[data-action=confirm]").click()
        expect(note).to_have_attribute("data-state", "done")
        return note.locator("fp-templatize-prompt")

    sid, _ = tech.with_facts_and_fix()
    page = open_pilot(sid)
    prompt = draft_and_resolve(page)
    prompt.locator("[data-action=dont-ask-again]").click()
    expect(prompt.locator(".fp-templatize__done")).to_contain_text("FlowPilot won't offer this again for your team.")
    expect(page.locator("#fp-drafts-count")).to_be_hidden()
    assert library_call(live_server, tenant, "GET", "/script-templates")["items"] == []
    (draft,) = library_call(live_server, tenant, "GET", "/draft-templates")["items"]
    assert draft["status"] == "rejected"
    assert library_call(live_server, tenant, "GET", "/account/settings")["templatize_prompt_enabled"] is False

    # The next session's resolve: a draft is pending, but the team said not to ask.
    next_sid, _ = tech.with_facts_and_fix()
    page = open_pilot(next_sid)
    prompt = draft_and_resolve(page)
    expect(prompt).to_have_attribute("data-state", "hidden")
    expect(prompt).to_be_hidden()
    expect(page.locator("#fp-drafts-count")).to_have_text("1")  # still waiting in the library
    assert page_errors.errors == []
