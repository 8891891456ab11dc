"""The HTML reports (simulate, --compare and --sweep) in headless Chromium at 1,024 and 1,600 px
wide: no text tile, cell or heading is clipped, and the page does not scroll sideways."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from journeydsl.cli import main
from tests.simulate.conftest import BEHAVIOUR, EXAMPLES, ONBOARDING
from tests.simulate.test_html_report import INSTALL_HINT

#: Run in the page once it is laid out: every text element whose content is wider than its box
#: (scrollWidth > clientWidth), and the page's own width against the window's.
_PROBE = """
<script>
window.addEventListener("load", function () {
  var clipped = [];
  var selector = ".tile, .tile b, .tile span, td, th, h1, h2, dd, dt, li, p, .scroll, main";
  document.querySelectorAll(selector).forEach(function (el) {
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      clipped.push(el.tagName + "." + el.className + ": " + el.textContent.trim().slice(0, 60) +
        " (" + el.scrollWidth + " > " + el.clientWidth + ")");
    }
  });
  var page = document.documentElement;
  if (page.scrollWidth > window.innerWidth) {
    clipped.push("page: " + page.scrollWidth + " > " + window.innerWidth);
  }
  var out = document.createElement("pre");
  out.id = "layout-probe";
  out.textContent = clipped.length ? clipped.join("\\n") : "ok";
  document.body.appendChild(out);
});
</script>
"""

PROBE_OUT = re.compile(r'<pre id="layout-probe">(.*?)</pre>', re.S)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip(INSTALL_HINT)
    return found


def _clipped(page: Path, width: int, profile: Path) -> str:
    """What the probe found in ``page`` at ``width`` px ("ok" when nothing is clipped)."""
    text = page.read_text(encoding="utf-8")
    # The probe is the test's, not the report's: the report's CSP would (rightly) refuse it.
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text)
    probed = page.with_name(f"probed-{width}-{page.name}")
    probed.write_text(text.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={width},1200",
        "--virtual-time-budget=3000",
        "--dump-dom",
        probed.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    found = PROBE_OUT.search(done.stdout)
    assert found is not None, "the probe did not run"
    return found.group(1).strip()


def _report(tmp_path: Path, *extra: str) -> Path:
    page = tmp_path / "report.html"
    args = [
        "simulate",
        ONBOARDING,
        "--population",
        "1000",
        "--behaviour",
        str(BEHAVIOUR / "onboarding.yaml"),
        "--seed",
        "7",
        "--root",
        str(EXAMPLES),
        "--format",
        "html",
        "--output",
        str(page),
        *extra,
    ]
    assert main(args) == 0
    return page


@pytest.mark.browser
@pytest.mark.parametrize("width", [1024, 1600])
def test_nothing_is_clipped_in_the_simulate_report(tmp_path: Path, width: int) -> None:
    """At 1,024 and 1,600 px every tile (the cost of 1,000 customers included), cell and
    heading of the report shows its whole text, and the page does not scroll sideways."""
    page = _report(tmp_path, "--policies", str(EXAMPLES / "policies.yaml"))
    assert _clipped(page, width, tmp_path / "profile") == "ok"


@pytest.mark.browser
@pytest.mark.parametrize("width", [1024, 1600])
def test_nothing_is_clipped_in_the_compare_report(tmp_path: Path, width: int) -> None:
    """The --compare page shows every finding, paired row and cost in full at both widths."""
    other = str(EXAMPLES / "variants" / "onboarding_reminder_holdout.journey")
    page = _report(tmp_path, "--compare", other)
    assert _clipped(page, width, tmp_path / "profile") == "ok"


@pytest.mark.browser
@pytest.mark.parametrize("width", [1024, 1600])
def test_nothing_is_clipped_in_the_sweep_report(tmp_path: Path, width: int) -> None:
    """The --sweep page with three values shows every cell in full at both widths."""
    journey = str(EXAMPLES / "variants" / "onboarding_reminder_interval.journey")
    page = tmp_path / "sweep.html"
    args = ["simulate", journey, "--population", "300", "--behaviour"]
    args += [str(BEHAVIOUR / "onboarding.yaml"), "--seed", "7", "--root", str(EXAMPLES)]
    args += ["--sweep", "reminder_interval=2d,3d,5d", "--format", "html", "-o", str(page)]
    assert main(args) == 0
    assert _clipped(page, width, tmp_path / "profile") == "ok"


@pytest.mark.browser
def test_the_probe_sees_a_clipped_tile(tmp_path: Path) -> None:
    """The check itself: a tile made too narrow for its figure is reported."""
    page = _report(tmp_path)
    text = page.read_text(encoding="utf-8").replace(
        ".tile b{display:block;", ".tile b{display:block;width:30px;overflow:hidden;"
    )
    page.write_text(text, encoding="utf-8")
    found = _clipped(page, 1024, tmp_path / "profile")
    assert found != "ok"
    assert "B." in found


@pytest.mark.browser
def test_the_compare_policies_page_shows_the_capacity_rows_unclipped(tmp_path: Path) -> None:
    """--compare-policies as HTML: a capacity row per queue figure, every cell in full."""
    page = tmp_path / "capacity.html"
    args = ["simulate", str(EXAMPLES / "dormant_reactivation.journey"), "--population", "200"]
    args += ["--behaviour", str(BEHAVIOUR / "dormant.yaml"), "--seed", "7", "--format", "html"]
    args += ["--policies", str(EXAMPLES / "telesales_one_a_day.policies.yaml")]
    args += ["--compare-policies", str(EXAMPLES / "policies.yaml"), "-o", str(page)]
    assert main(args) == 0
    html = page.read_text(encoding="utf-8")
    assert html.count('data-testid="capacity-row"') >= 3
    assert "queue:telesales a day" in html
    assert _clipped(page, 1024, tmp_path / "profile") == "ok"
