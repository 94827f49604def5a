"""The pages in a real browser, served by a real collector that a real exporter filled.

A ``thinkt collect`` with a token file (a read token and an ingest-only one), an
exporter shipping the shared samples from a fake home, and headless Chromium driven by
selenium: sign-in (the ingest-only token refused), every page, its figures against the
API's, sign-out (a copy of the cookie taken before opens nothing after). Screenshots go
to /tmp/web-shots/ and each page's weight (bytes the browser fetched) is checked
against the budget and written beside them.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
import requests

from tests.exporter.running import Exporter
from tests.exporter.test_survey import LAYOUT
from thinkt.collector.web import formats
from tests.harness import Collector
from tests.web.conftest import table_rows

pytestmark = pytest.mark.slow

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                "(pip install 'thinkt[test]')")
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SHOTS = Path("/tmp/web-shots")
READ, INGEST = "lead-read-token-5d1c0e", "laptop-ingest-token-77a0f3"
PERSON = "ann@example.com"
#: What a page may cost the browser on a first load (HTML, stylesheet, everything).
BUDGET = 300 * 1024
TOTAL_KINDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """A collector on a free port holding the samples, shipped by a real exporter."""
    samples = Path(__file__).resolve().parents[3] / "shared" / "samples"
    if not samples.is_dir():
        pytest.skip(f"shared samples not found at {samples} (CI keeps shared/ beside the clone)")
    root = tmp_path_factory.mktemp("web")
    home = root / "home"
    for sample, target in LAYOUT.items():
        (home / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(samples / sample, home / target)
    tokens = root / "tokens"
    tokens.write_text(f"{READ} read name=team-lead\n{INGEST} ingest name=laptops\n")
    os.chmod(tokens, stat.S_IRUSR | stat.S_IWUSR)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOME", str(home))  # the collector's state (web secret) goes there
        collector = Collector(root / "collector.duckdb", root / "collector.log",
                              "--token-file", str(tokens)).start()
    try:
        done = Exporter(home, root / "exporter.log", "--collector-url", collector.url,
                        "--api-key", INGEST, THINKT_USER=PERSON).run()
        assert done.returncode == 0, done.stdout + done.stderr
        collector.token = READ
        yield collector
    finally:
        collector.stop()
    assert READ not in collector.log() and INGEST not in collector.log()


@pytest.fixture(scope="module")
def chrome():
    """Headless Chromium (Debian's chromium and chromium-driver packages)."""
    if not (CHROMIUM.exists() and DRIVER.exists()):
        pytest.skip("no browser: apt-get install chromium chromium-driver (.ci/run does, as root)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1366,900"):
        options.add_argument(argument)
    try:
        driver = webdriver.Chrome(service=webdriver.ChromeService(str(DRIVER)), options=options)
    except WebDriverException as exc:
        pytest.skip(f"chromium did not start: {exc.msg}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def days(deployment) -> dict[str, str]:
    """The from/to of the samples' whole range (they are older than the default 30 days)."""
    keys = sorted(r["key"] for r in deployment.get("/v1/usage?group_by=day").json())
    return {"from": keys[0], "to": keys[-1]}


def until(driver, condition, what: str, timeout: float = 20.0):
    return WebDriverWait(driver, timeout).until(lambda d: condition(d),
                                                message=f"waiting for {what}")


def open_page(driver, url: str, selector: str = "main"):
    driver.get(url)
    until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, selector), f"{selector} on {url}")
    return driver.page_source


def sign_in(driver, base: str, token: str):
    open_page(driver, base + "/", "input[name=token]")
    field = driver.find_element(By.NAME, "token")
    field.clear()
    field.send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "section.signin button").click()


def shoot(driver, name: str) -> None:
    """A full-page screenshot (at most 4000 px high) for a person to look at."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 1366, "height": min(max(int(height), 600), 4000), "deviceScaleFactor": 1,
        "mobile": False})
    try:
        driver.save_screenshot(str(SHOTS / f"{name}.png"))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def weight(driver) -> int:
    """Bytes this page's load fetched: the document and every resource it pulled in."""
    return int(driver.execute_script(
        "return performance.getEntriesByType('navigation').concat("
        "performance.getEntriesByType('resource'))"
        ".reduce((sum, e) => sum + (e.encodedBodySize || 0) + 300, 0)"))


def query(base: str, path: str, params: dict | None = None):
    response = requests.get(base + path, params=params,
                            headers={"Authorization": f"Bearer {READ}"}, timeout=30)
    response.raise_for_status()
    return response.json()


def tokens(row: dict) -> int:
    return sum(row[k] for k in TOTAL_KINDS)


def test_an_ingest_only_token_is_refused_and_a_read_token_signs_in(deployment, chrome):
    base = deployment.url
    chrome.delete_all_cookies()
    sign_in(chrome, base, INGEST)
    until(chrome, lambda d: "may not read" in d.page_source, "the refusal")
    shoot(chrome, "signin-refused")
    assert chrome.current_url.startswith(base + "/signin")
    sign_in(chrome, base, READ)
    until(chrome, lambda d: d.find_elements(By.ID, "total-tokens"), "the overview")
    cookie = next(c for c in chrome.get_cookies() if c["name"] == "thinkt_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert READ not in cookie["value"] and READ not in chrome.current_url


def test_every_page_loads_light_with_the_apis_figures(deployment, chrome, days):
    base = deployment.url
    chrome.delete_all_cookies()
    sign_in(chrome, base, READ)
    until(chrome, lambda d: d.find_elements(By.ID, "total-tokens"), "the overview")
    weights = {}
    api_range = {"since": days["from"], "until": days["to"] + "T23:59:59Z"}
    by_day = query(base, "/v1/usage", {"group_by": "day"})
    range_query = f"?from={days['from']}&to={days['to']}"

    # Overview: the totals are the API's, and there are charts.
    page = open_page(chrome, base + "/" + range_query, "#total-entries")
    assert f'title="{sum(tokens(r) for r in by_day):,}"' in page
    assert chrome.find_element(By.ID, "total-entries").text == \
        f"{sum(r['entries'] for r in by_day):,}"
    assert len(chrome.find_elements(By.CSS_SELECTOR, "svg.chart")) == 2
    weights["overview"] = weight(chrome)
    shoot(chrome, "overview")

    # Usage by model and by person: rows and token totals are the API's.
    for group, api_group in (("model", "model"), ("user", "user")):
        page = open_page(chrome, f"{base}/usage{range_query}&group={group}", "#usage")
        api = query(base, "/v1/usage", {"group_by": api_group, **api_range})
        shown = table_rows(page, "usage")
        assert [r[0] for r in shown] == [r["key"] or "(none)" for r in api]
        assert [r[1] for r in shown] == [f"{tokens(r):,}" for r in api]
        assert [r[7] for r in shown] == [f"{r['entries']:,}" for r in api]
        # The cost column is the API's cost_usd as the page writes money ("unpriced"
        # where the API says null for tokens; never $0 for them).
        assert [r[-1] for r in shown] == [formats.cost(r) for r in api]
        assert any(r["cost_usd"] for r in api) and "unpriced" in " ".join(r[-1] for r in shown)
        if group == "user":
            assert [r[0] for r in shown] == [PERSON]
        weights[f"usage-{group}"] = weight(chrome)
        shoot(chrome, f"usage-{group}")
    csv_link = chrome.find_element(By.LINK_TEXT, "Download CSV").get_attribute("href")
    assert "/usage.csv?" in csv_link and "group=user" in csv_link

    # Sessions: the API's, most recent first.
    page = open_page(chrome, f"{base}/sessions{range_query}", "#sessions")
    api = query(base, "/v1/sessions", {"limit": 50})
    shown = [row.get_attribute("data-session")
             for row in chrome.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")]
    assert shown == [s["id"] for s in api]
    weights["sessions"] = weight(chrome)
    shoot(chrome, "sessions")

    # A transcript: the most tokens of any session, its totals the API's.
    biggest = max(api, key=tokens)
    chrome.find_element(By.CSS_SELECTOR, f'tr[data-session="{biggest["id"]}"] a').click()
    until(chrome, lambda d: d.find_elements(By.ID, "session-tokens"), "the transcript")
    assert chrome.find_element(By.ID, "session-tokens").text == f"{tokens(biggest):,}"
    assert chrome.find_element(By.ID, "session-entries").text == f"{biggest['entry_count']:,}"
    shown = chrome.find_elements(By.CSS_SELECTOR, "li.entry")
    assert len(shown) == min(biggest["entry_count"], 100)
    weights["transcript"] = weight(chrome)
    shoot(chrome, "transcript")

    # Search: the API's sessions, each linking to its first match, which is marked.
    term = "error"
    page = open_page(chrome, f"{base}/search?q={term}", "main")
    api = query(base, "/v1/traces/search", {"q": term, "limit": 50})
    links = chrome.find_elements(By.CSS_SELECTOR, "ol.results .snippet a")
    assert len(chrome.find_elements(By.CSS_SELECTOR, "ol.results > li")) == len(api) > 0
    assert chrome.find_elements(By.CSS_SELECTOR, "ol.results mark")
    weights["search"] = weight(chrome)
    shoot(chrome, "search")
    links[0].click()
    until(chrome, lambda d: d.find_elements(By.CSS_SELECTOR, "li.entry.target"), "the entry")
    target = chrome.find_element(By.CSS_SELECTOR, "li.entry.target")
    assert chrome.current_url.endswith("#" + target.get_attribute("id"))
    assert term in target.find_element(By.TAG_NAME, "mark").text.lower()
    shoot(chrome, "search-target")

    # Agents: the API's.
    page = open_page(chrome, base + "/agents", "#agents")
    api = query(base, "/v1/agents")
    shown = table_rows(page, "agents")
    assert [r[0] for r in shown] == [a["hostname"] or a["instance_id"] for a in api]
    assert [int(r[7].replace(",", "")) for r in shown] == [a["trace_count"] for a in api]
    assert [r[1] for r in shown] == [a.get("user") or "(none)" for a in api]
    weights["agents"] = weight(chrome)
    shoot(chrome, "agents")

    # A bad filter is a message on the page.
    open_page(chrome, base + "/usage?from=2026-02-30", ".alert")
    assert "A date is YYYY-MM-DD" in chrome.find_element(By.CSS_SELECTOR, ".alert").text
    shoot(chrome, "bad-filter")

    (SHOTS / "weights.json").write_text(json.dumps(weights, indent=1) + "\n")
    heavy = {name: size for name, size in weights.items() if size > BUDGET}
    assert not heavy, f"pages over {BUDGET} bytes: {heavy}"


def test_sign_out_ends_the_session_and_its_copies(deployment, chrome):
    base = deployment.url
    chrome.delete_all_cookies()
    sign_in(chrome, base, READ)
    until(chrome, lambda d: d.find_elements(By.ID, "total-tokens"), "the overview")
    copied = next(c for c in chrome.get_cookies() if c["name"] == "thinkt_session")
    with_copy = requests.get(base + "/agents", cookies={"thinkt_session": copied["value"]},
                             allow_redirects=False, timeout=30)
    assert with_copy.status_code == 200
    chrome.find_element(By.CSS_SELECTOR, "form.who button").click()
    until(chrome, lambda d: "You are signed out" in d.page_source, "the sign-out")
    shoot(chrome, "signed-out")
    open_page(chrome, base + "/agents", "main")
    assert "/signin" in chrome.current_url
    after = requests.get(base + "/agents", cookies={"thinkt_session": copied["value"]},
                         allow_redirects=False, timeout=30)
    assert after.status_code == 302 and "/signin" in after.headers["Location"]
