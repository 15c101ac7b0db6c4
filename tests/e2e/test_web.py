"""The web view in a real browser (Debian's chromium through chromedriver) against a real collector holding
a real agent's data: what a person would check, with screenshots (SNOOP_SCREENSHOTS=DIR keeps them)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from snoop.common.oci import layout_tar
from snoop.common.units import human_bytes
from tests.collector.test_vulnerabilities import SITE, python_package
from tests.conftest import Process, eventually, free_port, require, wait_http
from tests.e2e.conftest import Stack
from tests.e2e.test_inventory import wait_summary
from tests.e2e.test_vulnerabilities import findings
from tests.harness.containerd import Containerd
from tests.harness.scans import FORMATS

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


V1 = "import sqlite3, json, time\nsqlite3.connect(':memory:')\njson.dumps({})\ntime.sleep(600)\n"
V2 = "import sqlite3, time, requests\nsqlite3.connect(':memory:')\ntime.sleep(600)\n"
REQUESTS = f"/{SITE}/requests/__init__.py"


def test_pages_show_what_the_api_says(stack: Stack, containerd: Containerd, browser: WebDriver, debian_rootfs: Path,
                                      tmp_path: Path) -> None:
    """Version 1 of a Python app (the debootstrap Debian) and version 2 (plus a layer of Python packages),
    each with a scan stored: the pages a person reads to slim it."""
    driver = browser
    v1 = containerd.import_image("web-py-v1", rootfs=debian_rootfs, cmd=["/usr/bin/python3"])
    extra = tmp_path / "layer"
    python_package(extra, "requests", "2.28.1")
    python_package(extra, "idna", "3.4")
    (extra / "opt/app/lib").mkdir(parents=True)
    (extra / "opt/app/lib/outer.jar").write_bytes(b"PK\x03\x04")
    (extra / "opt/app/built-for").write_text("test_web\n")  # layouts are reproducible: not another test's image
    v2 = containerd.import_image("web-py-v2", tar=layout_tar([debian_rootfs, extra], tmp_path,
                                                                cmd=["/usr/bin/python3"]))
    pods = [containerd.run_pod(f"web-py-{n}-7d4f8b9c5d-abcde", {"app": (image, ["/usr/bin/python3", "-c", code])},
                               namespace="shop") for n, image, code in (("a", v1, V1), ("b", v2, V2))]
    try:
        for image, used in ((v1, "/usr/lib/python3.11/json/__init__.py"), (v2, REQUESTS)):
            stack.wait_files(image.digest, {used}, timeout_s=60)
            wait_summary(stack, image.digest)
            scan = FORMATS["trivy"](image.digest, image.reference, findings(debian_rootfs))
            assert httpx.post(f"{stack.base}/api/v1/images/{image.digest}/vulnerabilities", content=json.dumps(scan),
                              timeout=60).status_code == 200
        api = httpx.get(f"{stack.base}/api/v1/images/{v1.digest}/summary", timeout=10).json()

        driver.get(stack.base + "/")
        row = driver.find_element(By.CSS_SELECTOR, f'tr[data-digest="{v1.digest}"]')
        assert row.find_element(By.CSS_SELECTOR, ".used-bytes").text == human_bytes(api["used"]["bytes"])
        assert row.find_element(By.CSS_SELECTOR, ".files").text == str(api["image"]["files"])
        shot(driver, "images", tmp_path)

        row.find_element(By.CSS_SELECTOR, "a.name").click()
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "used-files"))
        assert driver.find_element(By.ID, "used-files").text == str(api["used"]["files"])
        assert driver.find_element(By.ID, "image-files").text == str(api["inventory"]["files"])
        assert driver.find_element(By.ID, "unused-files").text == str(api["unused"]["files"])
        rects = driver.find_elements(By.CSS_SELECTOR, "svg.treemap rect")
        assert len(rects) >= 3  # /usr, /var, /etc, …
        assert driver.find_element(By.ID, "vulns-in-use").text == "1"  # libsqlite3-0's; requests is not in v1
        shot(driver, "image", tmp_path)
        directory = driver.find_element(By.CSS_SELECTOR, "svg.treemap a.dir.inner")  # /usr/share in /usr, say
        target = directory.find_element(By.CSS_SELECTOR, "rect").get_attribute("data-path") or ""
        directory.click()  # drill down
        WebDriverWait(driver, 20).until(lambda d: "dir=" in d.current_url)
        assert f"dir={target}" in driver.current_url.replace("%2F", "/")
        crumbs = driver.find_element(By.CSS_SELECTOR, "nav.crumbs").text
        assert crumbs.endswith(target.rsplit("/", 1)[-1])
        for r in driver.find_elements(By.CSS_SELECTOR, "svg.treemap rect"):
            assert (r.get_attribute("data-path") or "").startswith(target + "/")

        driver.get(f"{stack.base}/images/{v1.digest}?used=false&prefix=/usr/bin/#files")
        unused = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "table.files td.path")]
        assert "/usr/bin/apt" in unused and "/usr/bin/python3.11" not in unused

        driver.get(f"{stack.base}/diff")
        driver.find_element(By.NAME, "base").send_keys(v1.reference)
        driver.find_element(By.NAME, "head").send_keys(v2.reference)
        driver.find_element(By.CSS_SELECTOR, "form button").click()
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "added-count"))
        added = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "ul.added li")]
        removed = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "ul.removed li")]
        groups = [g.text for g in driver.find_elements(By.CSS_SELECTOR, "details summary")]
        assert "+ __init__.py" in added and f"/{SITE}/requests (1)" in groups
        assert "− __init__.py" in removed and any(g.startswith("/usr/lib/python3.11/json ") for g in groups)
        packages = driver.find_element(By.ID, "packages-now-used").text
        assert "requests" in packages
        shot(driver, "diff", tmp_path)

        driver.get(f"{stack.base}/workloads")
        driver.find_element(By.LINK_TEXT, "web-py-a-7d4f8b9c5d-abcde").click()
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "ul.files"))
        files = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "ul.files li")]
        assert "/usr/bin/python3.11" in files

        driver.get(f"{stack.base}/docs")
        eventually(lambda: driver.find_elements(By.CSS_SELECTOR, ".opblock"),
                   what="Swagger UI did not render the API offline")
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
