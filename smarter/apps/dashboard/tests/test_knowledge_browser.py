"""A knowledge base's page in a real browser (Chromium, headless) against the platform served by
uvicorn: a member picks two documents and a file of the wrong type, watches each upload's
progress bar climb to 100 % (the browser's upload throttled, so the bar has steps to show),
reads the refusal of the wrong file in the API's words, and sees both documents become ready
in the documents table; then searches and deletes one.

Ingestion runs as the embedded default runs it: eagerly, once the upload's request commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.dashboard.tests.helpers import with_password
from smarter.apps.dashboard.tests.test_browser import CHROMIUM, CHROMIUM_ARGS, shot, sign_in
from smarter.apps.knowledge.models import Document
from smarter.apps.knowledge.tests.factories import MANUAL, make_knowledge_base

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium")

# Time enough for the first upload to load the local embedding model on a busy machine.
INGESTION_MS = 600_000
# A help page whose stylesheet is most of its bytes (ingestion drops it): large enough for its
# upload to take a few seconds at the throttled speed, small enough to embed quickly.
STYLES = "".join(
    f".rule-{number} {{ color: #{number % 4096:03x}; margin: {number % 40}px; }}\n" for number in range(9000)
)
HELP_PAGE = f"""<!doctype html><html><head><title>Gizmo help</title><style>{STYLES}</style></head>
<body><h1>Gizmo help</h1><p>The Gizmo's warranty lasts two years from the day of purchase.</p></body></html>"""
UPLOAD_BYTES_PER_SECOND = 150_000


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; the test's own database calls are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def site(asgi_server: Any, smarter_settings: Any, tmp_path: Path, owner: Persona, teammate: Persona) -> Any:
    smarter_settings.platform_host = f"127.0.0.1:{asgi_server.port}"
    smarter_settings.knowledge_dir = tmp_path / "knowledge"
    with_password(teammate)
    make_knowledge_base(owner.account, "manual", chunking={"strategy": "markdown", "size": 64, "overlap": 8})
    return asgi_server


def test_a_member_uploads_two_files_watches_their_progress_and_sees_them_become_ready(
    site: Any, chromium: Any, teammate: Persona, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    (files / "gizmo.md").write_text(MANUAL)
    (files / "help.html").write_text(HELP_PAGE)
    (files / "setup.exe").write_bytes(b"MZ" + bytes(range(256)))
    assert len(HELP_PAGE) > 2 * UPLOAD_BYTES_PER_SECOND  # over two seconds to send

    page = chromium.new_page(viewport={"width": 1360, "height": 1000})
    sign_in(page, site, "teammate", "/dashboard/knowledge/manual/")
    assert page.locator("#no-documents").is_visible()
    # Every value each bar takes, as the page sets it.
    page.evaluate(
        """() => {
            window.barValues = {};
            new MutationObserver(function (changes) {
                changes.forEach(function (change) {
                    document.querySelectorAll('#uploads li').forEach(function (row) {
                        const bar = row.querySelector('progress');
                        const seen = window.barValues[row.dataset.file] || (window.barValues[row.dataset.file] = []);
                        if (seen[seen.length - 1] !== bar.value) seen.push(bar.value);
                    });
                });
            }).observe(document.getElementById('uploads'), {subtree: true, childList: true, attributes: true});
        }"""
    )
    browser = page.context.new_cdp_session(page)
    browser.send("Network.enable")
    browser.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": UPLOAD_BYTES_PER_SECOND},
    )

    page.set_input_files("#upload-files", [str(files / name) for name in ("gizmo.md", "help.html", "setup.exe")])
    page.click("#upload-button")
    page.wait_for_function(
        "() => document.querySelectorAll('#uploads li.done, #uploads li.failed').length === 3", timeout=INGESTION_MS
    )
    shot(page, "console-knowledge-uploads.png")

    rows = page.locator("#uploads li")
    assert [rows.nth(i).get_attribute("data-file") for i in range(3)] == ["gizmo.md", "help.html", "setup.exe"]
    for index in (0, 1):
        assert rows.nth(index).get_attribute("class") == "upload done"
        assert rows.nth(index).locator(".upload-percent").inner_text() == "100 %"
        assert rows.nth(index).locator("progress").evaluate("(bar) => bar.value") == 100
        assert rows.nth(index).locator(".upload-state").inner_text() == "Uploaded: queued"
    seen = page.evaluate("() => window.barValues")
    for name in ("gizmo.md", "help.html"):
        assert seen[name][0] == 0 and seen[name][-1] == 100
        assert seen[name] == sorted(seen[name])
    # The throttled upload moved through values between the ends: a bar that climbs, not a jump.
    assert [value for value in seen["help.html"] if 0 < value < 100]

    refused = rows.nth(2)
    assert refused.get_attribute("class") == "upload failed"
    assert refused.locator(".upload-state").inner_text() == (
        "“setup.exe” is not a supported document type; the accepted types are txt, md, html, pdf, docx."
        " · file: must be txt, md, html, pdf or docx"
    )

    # The table was fetched again after each upload: both documents are there, and ready.
    page.wait_for_selector('#documents tr[data-document="help.html"][data-status="ready"]', timeout=INGESTION_MS)
    page.wait_for_selector('#documents tr[data-document="gizmo.md"][data-status="ready"]', timeout=INGESTION_MS)
    assert page.locator("#documents tbody tr").evaluate_all("(rows) => rows.map((row) => row.dataset.document)") == [
        "help.html",
        "gizmo.md",
    ]
    assert sorted(Document.objects.values_list("name", "status")) == [("gizmo.md", "ready"), ("help.html", "ready")]
    assert page.locator("#kpi-documents").inner_text() == "2"
    assert page.locator("#kpi-ready").inner_text() == "2"
    assert page.locator("#documents-pending").count() == 0
    shot(page, "console-knowledge-ready.png")
    browser.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )

    # Search, then delete one document (confirming).
    page.fill("#search-query", "How long is the warranty?")
    page.click("#search-button")
    page.wait_for_selector("#search-results")
    assert page.locator(".result-document").first.inner_text() == "help.html"
    assert "two years" in page.locator(".result-text").first.inner_text()
    page.on("dialog", lambda dialog: dialog.accept())
    page.click('#documents tr[data-document="gizmo.md"] .delete-document')
    page.wait_for_selector('#documents tr[data-document="gizmo.md"]', state="detached")
    assert list(Document.objects.values_list("name", flat=True)) == ["help.html"]
