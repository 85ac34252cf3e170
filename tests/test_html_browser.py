"""The HTML view in a real browser: headless Chromium (Debian's `chromium` and
`chromium-driver`, installed by `make system-deps`) driven through chromedriver by
selenium. Renders ResNet-18's page, checks every node is drawn, clicks nodes and checks the
details panel, searches, and keeps a screenshot in build/test-artifacts/."""

import shutil
import tempfile

import pytest

from deploykit.archive.reader import read_graph
from deploykit.views.html import write_html

from helpers import REPO_ROOT

ARTIFACTS = REPO_ROOT / "build" / "test-artifacts"


def _chrome_paths():
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.fail("headless Chromium is needed: apt-get install chromium chromium-driver (make system-deps)")
    return browser, driver


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = _chrome_paths()
    profile = tempfile.mkdtemp(prefix="deploykit-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1400,900"):
        options.add_argument(flag)
    # An explicit driver path: selenium then never tries to download one.
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_resnet18_page_draws_every_node_and_shows_details(browser, resnet_archives, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    graph = read_graph(resnet_archives.get("resnet18", 1).archive)
    page = tmp_path / "resnet18.html"
    write_html(graph, page, title="resnet18.dkr")
    browser.get(page.as_uri())
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.body.dataset.ready") == "1")

    expected = len(graph.inputs) + len(graph.nodes) + len(graph.outputs)
    boxes = browser.find_elements(By.CSS_SELECTOR, "g.node")
    assert len(boxes) == expected == browser.execute_script("return window.deploykitGraph.nodeCount")
    ops = [b.get_attribute("data-op") for b in boxes]
    assert ops.count("conv2d") == 20 and "batch_norm" not in ops
    edges = browser.find_elements(By.CSS_SELECTOR, "path.edge")
    assert len(edges) == browser.execute_script("return window.deploykitGraph.edgeCount") >= len(graph.nodes)
    # Every box has a real, non-overlapping place in the layout.
    layout = browser.execute_script("return window.deploykitGraph.layout()")
    by_layer = {}
    for i, box in enumerate(layout):
        assert box["w"] > 0
        by_layer.setdefault(box["layer"], []).append((box["x"] - box["w"] / 2, box["x"] + box["w"] / 2))
    for spans in by_layer.values():
        spans.sort()
        assert all(a[1] <= b[0] + 1e-6 for a, b in zip(spans, spans[1:])), spans

    # Fit to the window shows the whole graph; then click a fused conv with a residual.
    browser.find_element(By.ID, "fit").click()
    index = next(i for i, n in enumerate(graph.nodes) if len(n.inputs) == 4 and n.inputs[3] is not None)
    node = graph.nodes[index]
    browser.execute_script("window.deploykitGraph.select(arguments[0])", index + len(graph.inputs))
    target = browser.find_element(By.CSS_SELECTOR, f'g.node[data-id="{index + len(graph.inputs)}"]')
    target.click()
    details = browser.find_element(By.ID, "details")
    text = details.text
    assert details.get_attribute("data-selected") == str(index + len(graph.inputs))
    assert "conv2d + add + relu" in text and node.name in text
    assert "act_min" in text and "stride" in text and "FLOPs" in text
    assert node.outputs[0].type_str() in text and node.inputs[0].type_str() in text
    assert "weight" in text and "KiB" in text  # weights with their sizes
    assert "selected" in target.get_attribute("class")

    # Search: matches are highlighted and Enter selects the first one.
    search = browser.find_element(By.ID, "search")
    search.send_keys("downsample")
    assert browser.find_element(By.ID, "matches").text == "3 matches"
    assert len(browser.find_elements(By.CSS_SELECTOR, "g.node.match")) == 3
    search.send_keys(Keys.ENTER)
    assert "downsample" in browser.find_element(By.ID, "details").text

    # Zoom with the buttons changes the view transform.
    view = browser.find_element(By.CSS_SELECTOR, "svg#svg > g")
    before = view.get_attribute("transform")
    browser.find_element(By.ID, "zoom-in").click()
    assert view.get_attribute("transform") != before

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.find_element(By.ID, "fit").click()
    assert browser.save_screenshot(str(ARTIFACTS / "resnet18_graph_fit.png"))
    shot = ARTIFACTS / "resnet18_graph.png"
    browser.execute_script("window.deploykitGraph.select(arguments[0])", index + len(graph.inputs))
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
