"""The web page (api/web.py, api/static/) in a real browser: Debian's chromium driven by selenium through the system
chromedriver, against a real `rag serve` on loopback with API keys on. One server and one browser for the module.

Screenshots of the main states go to tests/artifacts/ (git-ignored): answer, source view, documents, phone width.
"""
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from api.testing import ROOT, running_server
from api.web import STATIC_DIR

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
needs_browser = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="no browser: install Debian's chromium and chromium-driver (apt-get install chromium chromium-driver); "
           ".ci/run does",
)
os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager never downloads anything (and is not needed here)

ARTIFACTS = ROOT / "tests" / "artifacts"
KEY = "web-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
GAS = "Comment progressent les travaux du gazoduc d'Extrême-Orient ?"
ANSWER_WAIT = 300  # seconds; an answer takes a few on a quiet machine


def make_browser(language: str = "en-US") -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--disable-gpu", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(30)
    return driver


@pytest.fixture(scope="module")
def server(seed_index, tmp_path_factory):
    index = tmp_path_factory.mktemp("web") / "index"
    shutil.copytree(seed_index, index)  # the tests add and delete documents
    with running_server(index, env={"RAG_API_KEYS": KEY}) as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    driver = make_browser()
    yield driver
    driver.quit()


@pytest.fixture
def page(server, browser):
    """The page, freshly loaded, with the key already given (as after the prompt) and the documents listed."""
    browser.set_window_size(1280, 900)
    browser.get(server.base + "/")
    browser.execute_script("sessionStorage.setItem('rag.apiKey', arguments[0])", KEY)
    browser.get(server.base + "/")
    until(browser, lambda d: d.find_element(By.ID, "documents-count").text, 30)
    browser.get_log("browser")  # start each test with an empty console
    return browser


def until(driver, condition, timeout: float = 20):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def text_of(element) -> str:
    return element.get_property("textContent")


def ask(driver, question: str):
    """Types the question, presses Enter, and returns the turn once its verified answer has replaced the draft."""
    before = len(driver.find_elements(By.CSS_SELECTOR, ".turn"))
    field = driver.find_element(By.ID, "question")
    field.send_keys(question)
    field.send_keys(Keys.ENTER)
    try:
        until(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".turn")) == before + 1
              and "draft" not in d.find_elements(By.CSS_SELECTOR, ".turn")[-1].find_element(By.CLASS_NAME, "answer").get_attribute("class"),
              ANSWER_WAIT)
    except TimeoutException:
        raise AssertionError(f"no answer to {question!r}; page: {text_of(driver.find_element(By.TAG_NAME, 'main'))}") from None
    return driver.find_elements(By.CSS_SELECTOR, ".turn")[-1]


def open_chip(driver, chip) -> str:
    """Clicks a citation chip; returns the highlighted text once the source view shows it."""
    chip.click()
    mark = until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#source[open] #source-text mark"))[0]
    return text_of(mark)


def mark_is_in_view(driver) -> bool:
    return driver.execute_script("""
        const box = document.getElementById('source-text').getBoundingClientRect();
        const mark = document.querySelector('#source-text mark').getBoundingClientRect();
        return mark.top >= box.top && mark.top < box.bottom;""")


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


# ---- the page and its headers ----------------------------------------------------------------------------------------
def test_an_installed_package_holds_the_page(tmp_path):
    """The wheel carries api/static/ (package data), so an installed `rag serve` serves the page."""
    source = tmp_path / "source"  # a copy: building in place would leave build/ in the checkout
    for name in ("pyproject.toml", "README.md"):
        (source / name).parent.mkdir(exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    for package in ("api", "rag", "index", "eval"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__", "out"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            str(source), "-w", str(tmp_path / "dist")], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("rag-*.whl")
    packed = set(zipfile.ZipFile(wheel).namelist())
    assert {f"api/static/{p.name}" for p in STATIC_DIR.iterdir()} <= packed and "api/web.py" in packed


def test_the_page_loads_without_a_key_under_a_strict_csp(server):
    page = httpx.get(f"{server.base}/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), "inline script"  # every script is a file
    assert not re.search(r"\son\w+=", page.text) and "http" not in page.text  # no inline handlers, no CDN
    assert set(re.findall(r'(?:src|href)="/web/([^"]+)"', page.text)) == {"app.js", "app.css", "favicon.svg"}
    weight = 0
    for name in sorted(p.name for p in STATIC_DIR.iterdir()):  # the page, its modules, style sheet and icon
        r = httpx.get(f"{server.base}/web/{name}", timeout=10)
        assert r.status_code == 200 and r.headers["content-security-policy"] == csp, name
        weight += len(r.content)
    print(f"page weight: {weight:,} bytes uncompressed, {len(list(STATIC_DIR.iterdir()))} files")
    assert weight < 100_000
    assert httpx.get(f"{server.base}/v1/documents", timeout=10).status_code == 401  # the API still needs the key
    docs = httpx.get(f"{server.base}/docs", timeout=10)  # Swagger's page keeps its own (inline) script
    assert docs.status_code == 200 and "swagger-ui-bundle.js" in docs.text and "content-security-policy" not in docs.headers


@needs_browser
def test_the_key_prompt_in_french(server):
    """A fresh tab (French browser): the page asks for the key on 401, says when a key is refused, and keeps a
    good key in session storage."""
    driver = make_browser("fr-FR,fr")
    try:
        driver.get(server.base + "/")
        dialog = until(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#key-dialog[open]"))
        assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
        assert "clé d'API" in text_of(dialog) and driver.find_element(By.ID, "ask-button").text == "Demander"
        field = driver.find_element(By.ID, "key-input")
        field.send_keys("wrong-key", Keys.ENTER)
        error = until(driver, lambda d: d.find_element(By.ID, "key-error").is_displayed()
                      and d.find_element(By.ID, "key-error"))
        assert "401" in error.text and "refusée" in error.text and "invalid API key" in error.text
        field = driver.find_element(By.ID, "key-input")
        field.send_keys(KEY, Keys.ENTER)
        until(driver, lambda d: d.find_element(By.ID, "documents-count").text == "1")
        assert not driver.find_elements(By.CSS_SELECTOR, "#key-dialog[open]")
        assert driver.execute_script("return sessionStorage.getItem('rag.apiKey')") == KEY
    finally:
        driver.quit()


@needs_browser
def test_cancelling_the_key_prompt_shows_the_401(server, browser):
    browser.get(server.base + "/")
    browser.execute_script("sessionStorage.clear()")
    browser.get(server.base + "/")
    until(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#key-dialog[open]"))
    browser.find_element(By.ID, "key-cancel").click()
    notice = until(browser, lambda d: d.find_element(By.ID, "notice").is_displayed() and d.find_element(By.ID, "notice"))
    assert notice.text.startswith("401") and "API key" in notice.text


# ---- asking ----------------------------------------------------------------------------------------------------------
@needs_browser
def test_ask_stream_cite_highlight_and_follow_up(page, seed_text):
    # Every text the draft shows while the answer streams, recorded by the test (not by the page).
    page.execute_script("""
        window.drafts = [];
        new MutationObserver(() => {
            for (const a of document.querySelectorAll('.answer.draft')) if (a.textContent) window.drafts.push(a.textContent);
        }).observe(document.getElementById('turns'), {subtree: true, childList: true, characterData: true});""")
    turn = ask(page, GAS)
    drafts = page.execute_script("return window.drafts")
    assert len(set(drafts)) >= 2, drafts  # the draft grew token by token before the verified answer replaced it
    answer = turn.find_element(By.CLASS_NAME, "answer")
    assert "prévu" in answer.text and "abstained" not in answer.get_attribute("class")
    assert re.search(r"retrieve [\d,]+ ms · generate [\d,]+ ms · total [\d,]+ ms", turn.find_element(By.CLASS_NAME, "status").text)
    assert turn.find_element(By.CSS_SELECTOR, ".passages summary").text.startswith("Passages read (")

    chip = answer.find_element(By.CLASS_NAME, "chip")
    start, end = int(chip.get_attribute("data-start")), int(chip.get_attribute("data-end"))
    quote = text_of(turn.find_element(By.CSS_SELECTOR, ".citations .quote"))  # the API's quote, as streamed
    highlighted = open_chip(page, chip)
    assert highlighted == quote == seed_text[start:end] and "prévu" in highlighted
    assert page.find_element(By.ID, "source-title").text == chip.get_attribute("data-doc-id")
    assert mark_is_in_view(page)
    page.switch_to.active_element.send_keys(Keys.ESCAPE)  # Esc closes the source view; the focus goes back
    until(page, lambda d: not d.find_elements(By.CSS_SELECTOR, "#source[open]"))
    assert page.switch_to.active_element == chip

    follow = ask(page, "Et quand doit-il débuter ?")
    rewritten = follow.find_element(By.CLASS_NAME, "rewritten").text
    assert "gazoduc d'Extrême-Orient" in rewritten and "débuter" in rewritten
    assert "2027" in follow.find_element(By.CLASS_NAME, "answer").text
    assert follow.find_element(By.CLASS_NAME, "status").text.startswith("rewrite ")
    ActionChains(page).move_to_element(page.find_element(By.ID, "question")).perform()  # no hover on the chip
    shot(page, "answer")
    chip = follow.find_element(By.CSS_SELECTOR, ".answer .chip")
    assert "2027" in open_chip(page, chip) and mark_is_in_view(page)
    shot(page, "source")
    page.find_element(By.ID, "source-close").click()

    page.set_window_size(390, 844)  # a phone: nothing wider than the screen
    assert page.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "phone")
    open_chip(page, chip)
    box = page.execute_script("return document.getElementById('source').getBoundingClientRect().toJSON()")
    assert box["left"] >= 0 and box["right"] <= page.execute_script("return document.documentElement.clientWidth")
    shot(page, "phone-source")
    page.switch_to.active_element.send_keys(Keys.ESCAPE)
    page.set_window_size(1280, 900)

    page.find_element(By.ID, "new-conversation").click()
    assert not page.find_elements(By.CSS_SELECTOR, ".turn") and page.find_element(By.ID, "empty").is_displayed()
    assert not console_errors(page)


# ---- documents -------------------------------------------------------------------------------------------------------
PHARE = "🚢 Notes du port.\nLe phare de Kerbrat mesure 47 mètres et fut allumé en 1902.\n"  # an astral character first


@needs_browser
def test_upload_ask_and_delete_a_document(page, server, tmp_path):
    path = tmp_path / "phare.txt"
    path.write_text(PHARE, encoding="utf-8")
    page.find_element(By.ID, "documents-open").click()
    until(page, lambda d: d.find_element(By.CSS_SELECTOR, '#document-list[aria-busy="false"] .document'))
    page.find_element(By.ID, "file-input").send_keys(str(path))  # the file picker's input
    done = until(page, lambda d: d.find_elements(By.CSS_SELECTOR, ".upload.done"), 120)[0]
    assert "phare.txt" in done.text and done.text.endswith("added · 1 chunk")
    until(page, lambda d: d.find_element(By.ID, "documents-count").text == "2")
    assert page.find_element(By.CSS_SELECTOR, '.document[data-doc-id="phare.txt"]')

    # A refused file, dropped on the page: the server's reason is shown.
    page.execute_script("""
        const data = new DataTransfer();
        data.items.add(new File([''], 'vide.txt', {type: 'text/plain'}));
        window.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));""")
    failed = until(page, lambda d: d.find_elements(By.CSS_SELECTOR, ".upload.failed"), 60)[0]
    assert "422" in failed.text and "vide.txt: the file is empty" in failed.text
    shot(page, "documents")
    page.find_element(By.ID, "documents-close").click()

    turn = ask(page, "Combien mesure le phare de Kerbrat ?")
    assert "47" in turn.find_element(By.CLASS_NAME, "answer").text
    chip = turn.find_element(By.CSS_SELECTOR, ".answer .chip")
    assert chip.get_attribute("data-doc-id") == "phare.txt"
    start, end = int(chip.get_attribute("data-start")), int(chip.get_attribute("data-end"))
    highlighted = open_chip(page, chip)  # the server counts code points, JavaScript UTF-16 units
    assert highlighted == PHARE[start:end] == text_of(turn.find_element(By.CSS_SELECTOR, ".citations .quote"))
    page.switch_to.active_element.send_keys(Keys.ESCAPE)

    page.find_element(By.ID, "documents-open").click()  # the list is fetched again
    row = until(page, lambda d: d.find_element(By.CSS_SELECTOR, '#document-list[aria-busy="false"] .document[data-doc-id="phare.txt"]'))
    row.find_element(By.CLASS_NAME, "delete").click()
    assert "phare.txt" in row.find_element(By.CLASS_NAME, "confirm-text").text  # asks first
    row.find_element(By.CLASS_NAME, "confirm-delete").click()
    until(page, lambda d: d.find_element(By.ID, "documents-count").text == "1"
          and not d.find_elements(By.CSS_SELECTOR, '.document[data-doc-id="phare.txt"]'))
    assert httpx.get(f"{server.base}/v1/documents/phare.txt", headers=AUTH, timeout=10).status_code == 404
    assert not [m for m in console_errors(page) if "422" not in m]  # the refused upload's response only


XSS_NAME = 'notes/<img src=x onerror="window.pwned=3">.txt'
XSS_TEXT = ('Le pont de Varenne <script>window.pwned = 1; document.title = "pwned"</script> a été construit en 1911. '
            '<img src=x onerror="window.pwned = 2; document.title = \'pwned\'"> Il mesure <b>120</b> mètres.\n')


@needs_browser
def test_a_document_holding_markup_stays_inert_text(page, server):
    r = httpx.post(f"{server.base}/v1/documents", json={"doc_id": XSS_NAME, "text": XSS_TEXT}, headers=AUTH, timeout=120)
    assert r.status_code == 201, r.text
    try:
        page.find_element(By.ID, "documents-open").click()
        name = until(page, lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, '#document-list[aria-busy="false"] .doc-open')
                                      if text_of(b) == XSS_NAME])[0]
        name.click()  # the whole document in the source view
        until(page, lambda d: text_of(d.find_element(By.ID, "source-text")) == XSS_TEXT)
        assert page.find_element(By.ID, "source-title").text == XSS_NAME
        page.switch_to.active_element.send_keys(Keys.ESCAPE)
        page.switch_to.active_element.send_keys(Keys.ESCAPE)  # and the documents panel

        turn = ask(page, "Quand le pont de Varenne a-t-il été construit ?")
        turn.find_element(By.CSS_SELECTOR, ".passages summary").click()
        passages = [text_of(p) for p in turn.find_elements(By.CLASS_NAME, "passage-text")]
        assert any("<script>" in p or "<img src=x" in p for p in passages), passages
        assert page.execute_script("return document.querySelectorAll('main img, main script, main b, dialog img').length") == 0
        assert page.execute_script("return window.pwned") is None and page.title == "rag"
        assert not [m for m in console_errors(page) if "Content Security Policy" in m or "pwned" in m]
    finally:
        httpx.delete(f"{server.base}/v1/documents/{quote(XSS_NAME)}", headers=AUTH, timeout=60)
