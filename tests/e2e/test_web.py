"""The web view in a real browser (Debian's chromium through chromedriver) against a real collector holding
a real agent's data: what a person would check, with screenshots (SNOOP_SCREENSHOTS=DIR keeps them)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from collector.web.pages import human
from tests.conftest import Process, free_port, require, wait_http
from tests.e2e.conftest import Stack, marker_image
from tests.e2e.test_inventory import wait_summary
from tests.harness.containerd import Containerd

pytestmark = [pytest.mark.bpf, pytest.mark.containerd]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    require(Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), "chromium and chromium-driver not installed")
    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager look for drivers on the network
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()


def shot(driver: WebDriver, name: str, tmp: Path) -> None:
    path = tmp / f"{name}.png"
    driver.save_screenshot(str(path))
    keep = os.environ.get("SNOOP_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)


def test_pages_show_what_the_api_says(stack: Stack, containerd: Containerd, browser: WebDriver, tmp_path: Path) -> None:
    driver = browser
    v1 = marker_image(containerd, tmp_path / "v1", "web-app-v1", "/etc/one.conf")
    v2 = marker_image(containerd, tmp_path / "v2", "web-app-v2", "/etc/two.conf")
    pods = [containerd.run_pod(f"web-app-{n}-7d4f8b9c5d-abcde", {"app": (image, [
        "/bin/sh", "-c", f"cat /etc/{conf}; ls /bin >/dev/null; sleep 600"])}, namespace="shop")
            for n, image, conf in (("a", v1, "one.conf"), ("b", v2, "two.conf"))]
    try:
        for image, conf in ((v1, "/etc/one.conf"), (v2, "/etc/two.conf")):
            stack.wait_files(image.digest, {conf})
            wait_summary(stack, image.digest)
        api = httpx.get(f"{stack.base}/api/v1/images/{v1.digest}/summary", timeout=10).json()

        driver.get(stack.base + "/")
        row = driver.find_element(By.CSS_SELECTOR, f'tr[data-digest="{v1.digest}"]')
        assert row.find_element(By.CSS_SELECTOR, ".used-bytes").text == human(api["used"]["bytes"])
        assert row.find_element(By.CSS_SELECTOR, ".files").text == str(api["image"]["files"])
        shot(driver, "images", tmp_path)

        row.find_element(By.CSS_SELECTOR, "a.name").click()
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "used-files"))
        assert driver.find_element(By.ID, "used-files").text == str(api["used"]["files"])
        assert driver.find_element(By.ID, "image-files").text == str(api["inventory"]["files"])
        assert driver.find_element(By.ID, "unused-files").text == str(api["unused"]["files"])
        rects = driver.find_elements(By.CSS_SELECTOR, "svg.treemap rect")
        assert len(rects) >= 2  # /bin and /etc; links hold no bytes
        shot(driver, "image", tmp_path)
        directory = driver.find_element(By.CSS_SELECTOR, "svg.treemap a.dir")
        target = directory.find_element(By.CSS_SELECTOR, "rect").get_attribute("data-path") or ""
        directory.click()  # drill down
        WebDriverWait(driver, 20).until(lambda d: "dir=" in d.current_url)
        assert f"dir={target}" in driver.current_url.replace("%2F", "/")
        crumbs = driver.find_element(By.CSS_SELECTOR, "nav.crumbs").text
        assert crumbs.endswith(target.rsplit("/", 1)[-1])
        for r in driver.find_elements(By.CSS_SELECTOR, "svg.treemap rect"):
            assert (r.get_attribute("data-path") or "").startswith(target + "/")

        driver.get(f"{stack.base}/images/{v1.digest}?used=false#files")
        unused = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "table.files td.path")]
        assert "/etc/one.conf" not in unused and "/etc/passwd" in unused

        driver.get(f"{stack.base}/diff")
        driver.find_element(By.NAME, "base").send_keys(v1.reference)
        driver.find_element(By.NAME, "head").send_keys(v2.reference)
        driver.find_element(By.CSS_SELECTOR, "form button").click()
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "added-count"))
        added = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "ul.added li")]
        removed = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "ul.removed li")]
        assert "+ two.conf" in added and "− one.conf" in removed
        shot(driver, "diff", tmp_path)

        driver.get(f"{stack.base}/workloads")
        driver.find_element(By.LINK_TEXT, "web-app-a-7d4f8b9c5d-abcde").click()
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "ul.files"))
        files = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "ul.files li")]
        assert "/etc/one.conf" in files

        driver.get(f"{stack.base}/docs")
        deadline = time.monotonic() + 20
        while not driver.find_elements(By.CSS_SELECTOR, ".opblock"):
            assert time.monotonic() < deadline, "Swagger UI did not render the API offline"
            time.sleep(0.2)
    finally:
        for pod in pods:
            containerd.remove_pod(pod)


def test_with_a_token_pages_ask_for_it_once(browser: WebDriver, tmp_path: Path) -> None:
    driver = browser
    http = free_port()
    collector = Process(["collector", "--db", f"sqlite:///{tmp_path}/snoop.db", "--http-listen", f"127.0.0.1:{http}",
                         "--grpc-listen", f"127.0.0.1:{free_port()}", "--token", "s3cret-token"],
                        tmp_path / "collector.log")
    base = f"http://127.0.0.1:{http}"
    try:
        wait_http(base + "/readyz", proc=collector.proc)
        page = httpx.get(base + "/", headers={"Accept": "text/html"})
        assert page.status_code == 401 and 'name="token"' in page.text and "Images" not in page.text.split("</nav>")[1]
        assert httpx.get(base + "/api/v1/images").status_code == 401
        driver.get(base + "/workloads")
        driver.find_element(By.NAME, "token").send_keys("wrong")
        driver.find_element(By.CSS_SELECTOR, "form.login button").click()
        WebDriverWait(driver, 20).until(lambda d: "not the collector's" in d.page_source)
        driver.find_element(By.NAME, "token").send_keys("s3cret-token")
        driver.find_element(By.CSS_SELECTOR, "form.login button").click()
        WebDriverWait(driver, 20).until(lambda d: d.title.startswith("Workloads"))
        assert driver.execute_script("return document.cookie") == ""  # HttpOnly
        cookie = driver.get_cookie("snoop_token")
        assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        driver.get(base + "/api/v1/images")
        assert '"images"' in driver.page_source  # the downloads work too
        driver.delete_all_cookies()
    finally:
        collector.stop()
