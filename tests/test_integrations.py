"""Editor and CI integration: SARIF output, the `[tool.journeydsl]` settings, the pre-commit
hooks (run by `pre-commit try-repo` on a scratch repository) and the GitHub Action (its
command lines run as the runner would run them)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from journeydsl.cli import main
from journeydsl.diagnostics import CODES

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
BROKEN = """\
journey broken version 1
uses events "events.yaml"
outcomes done
entry on card_issued
if sum(transaction.amount in last 30d) >= "1000000" {
  exit done
}
exit done
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder holding a copy of the examples and a broken journey; the cwd is in it."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    (tmp_path / "examples" / "broken.journey").write_text(BROKEN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --------------------------------------------------------------------------- SARIF

#: The part of the SARIF 2.1.0 schema (OASIS) that code-scanning tools read: the log, its runs,
#: the driver and its rules, results with a rule, a level, a message and a region.
SARIF_SHAPE: dict[str, Any] = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "$schema": {"type": "string", "format": "uri"},
        "runs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name", "rules"],
                                "properties": {
                                    "name": {"type": "string", "minLength": 1},
                                    "version": {"type": "string"},
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id", "shortDescription"],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "shortDescription": {
                                                    "type": "object",
                                                    "required": ["text"],
                                                },
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["ruleId", "level", "message", "locations"],
                            "properties": {
                                "ruleId": {"type": "string"},
                                "ruleIndex": {"type": "integer", "minimum": 0},
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": {
                                    "type": "object",
                                    "required": ["text"],
                                    "properties": {"text": {"type": "string", "minLength": 1}},
                                },
                                "locations": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {
                                        "type": "object",
                                        "required": ["physicalLocation"],
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "required": ["artifactLocation", "region"],
                                                "properties": {
                                                    "artifactLocation": {
                                                        "type": "object",
                                                        "required": ["uri"],
                                                    },
                                                    "region": {
                                                        "type": "object",
                                                        "required": ["startLine", "startColumn"],
                                                        "properties": {
                                                            "startLine": {
                                                                "type": "integer",
                                                                "minimum": 1,
                                                            },
                                                            "startColumn": {
                                                                "type": "integer",
                                                                "minimum": 1,
                                                            },
                                                            "endLine": {
                                                                "type": "integer",
                                                                "minimum": 1,
                                                            },
                                                            "endColumn": {
                                                                "type": "integer",
                                                                "minimum": 1,
                                                            },
                                                        },
                                                    },
                                                },
                                            }
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def test_check_sarif_is_a_sarif_2_1_0_log(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check --format sarif` prints a SARIF 2.1.0 log whose results point at the mistake and
    whose rules index matches; exit 1 as for text."""
    code, out, _ = run(capsys, "check", "--format", "sarif", "examples/broken.journey")
    assert code == 1
    log = json.loads(out)
    jsonschema.Draft202012Validator(SARIF_SHAPE).validate(log)
    (run_,) = log["runs"]
    rules = run_["tool"]["driver"]["rules"]
    (result,) = run_["results"]
    assert result["ruleId"] == "JD305"
    assert rules[result["ruleIndex"]]["id"] == "JD305"
    assert rules[result["ruleIndex"]]["shortDescription"]["text"] == CODES["JD305"]
    assert result["level"] == "error"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "examples/broken.journey"
    assert (location["region"]["startLine"], location["region"]["startColumn"]) == (5, 4)
    assert "without quotes" in result["message"]["text"]


def test_check_sarif_of_clean_journeys_has_no_results(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No diagnostic: a valid log with an empty result list, exit 0."""
    code, out, _ = run(
        capsys, "check", "--format", "sarif", "examples/dormant_reactivation.journey"
    )
    assert code == 0
    log = json.loads(out)
    jsonschema.Draft202012Validator(SARIF_SHAPE).validate(log)
    assert log["runs"][0]["results"] == []


# --------------------------------------------------------------------------- [tool.journeydsl]


def _pyproject(folder: Path, table: str) -> None:
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "bank-journeys"\n\n[tool.journeydsl]\n' + table, encoding="utf-8"
    )


def test_settings_are_found_walking_up_and_ignore_codes(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ignore` in the nearest pyproject.toml above the cwd silences a code; --select narrows."""
    _pyproject(project, 'ignore = ["JD305"]\n')
    (project / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(project / "deep" / "er")
    code, out, _ = run(capsys, "check", "../../examples/broken.journey")
    assert code == 0, out
    assert "JD305" not in out
    _pyproject(project, "")
    code, out, _ = run(capsys, "check", "--select", "JD5", "../../examples/broken.journey")
    assert code == 0, out
    code, out, _ = run(capsys, "check", "--select", "JD3", "../../examples/broken.journey")
    assert code == 1
    assert "error[JD305]" in out


def test_settings_root_and_policies(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`root` lets journeys in subfolders read catalogs above them; `policies` checks them
    against a policy file, both relative to the pyproject's folder."""
    variant = "examples/variants/onboarding_remind_every_2d.journey"
    code, out, _ = run(capsys, "check", variant)
    assert code == 1
    assert "JD113" in out
    _pyproject(project, 'root = "examples"\n')
    code, out, _ = run(capsys, "check", variant)
    assert code == 0, out
    (project / "examples" / "strict.yaml").write_text(
        "extends: vn_decree_91\nfrequency_caps:\n"
        "  - {name: one_a_week, categories: [marketing, transactional], max: 1, window: 7d}\n",
        encoding="utf-8",
    )
    _pyproject(project, 'root = "examples"\npolicies = "examples/strict.yaml"\n')
    code, out, _ = run(capsys, "check", variant)
    assert "JD602" in out


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'ignor = ["JD305"]\n',
            "unknown key 'ignor' in [tool.journeydsl] — did you mean 'ignore'?",
        ),
        ('ignore = ["JD9"]\n', "'JD9' is not a diagnostic code or a prefix of one"),
        ("ignore = 5\n", "'ignore' is a list of codes"),
        ('root = "nowhere"\n', "nowhere: no such folder"),
    ],
)
def test_a_mistake_in_the_settings_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str], table: str, message: str
) -> None:
    """A wrong key, code or type in [tool.journeydsl] stops check with exit 2, naming the file
    and line."""
    _pyproject(project, table)
    code, _, err = run(capsys, "check", "examples/broken.journey")
    assert code == 2
    assert message in err
    if "root" not in table:
        assert f"{project / 'pyproject.toml'}:5:1" in err


# --------------------------------------------------------------------------- pre-commit


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_pre_commit_hooks_declare_check_and_fmt() -> None:
    """The hooks file offers journeydsl-check and journeydsl-fmt, run from this package."""
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    by_id = {h["id"]: h for h in hooks}
    assert by_id["journeydsl-check"]["entry"].startswith("journeydsl check")
    assert by_id["journeydsl-fmt"]["entry"].startswith("journeydsl fmt --check")
    assert all(h["language"] == "python" for h in hooks)


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One hook environment for the session: it is built once, by pip, from this checkout."""
    return tmp_path_factory.mktemp("pre-commit-home")


def _try_repo(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PRE_COMMIT_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_pre_commit_try_repo_runs_both_hooks(tmp_path: Path, pre_commit_home: Path) -> None:
    """`pre-commit try-repo` installs this checkout's hooks in a scratch repository: check
    passes on the examples (root from pyproject.toml) and fails on a broken journey; fmt
    --check fails on a journey out of layout."""
    pytest.importorskip("pre_commit")
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("pre-commit needs git and a git checkout of journeydsl")
    repo = tmp_path / "bank"
    shutil.copytree(EXAMPLES, repo / "journeys")
    _pyproject(repo, 'root = "journeys"\n')
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "journeys")
    done = _try_repo(repo, pre_commit_home, "journeydsl-check", "--all-files")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "journeydsl check" in done.stdout
    (repo / "journeys" / "broken.journey").write_text(BROKEN, encoding="utf-8")
    _git(repo, "add", "-A")
    done = _try_repo(repo, pre_commit_home, "journeydsl-check", "--all-files")
    assert done.returncode == 1
    assert "error[JD305]" in done.stdout
    done = _try_repo(repo, pre_commit_home, "journeydsl-fmt", "--files", "journeys/broken.journey")
    assert done.returncode == 1
    assert "journeys/broken.journey: not in canonical layout" in done.stdout


# --------------------------------------------------------------------------- GitHub Action


def _action() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    return found


def _expand(text: str, inputs: dict[str, str]) -> str:
    """``${{ inputs.x }}`` and ``${{ github.action_path }}`` as the runner fills them in."""
    for name, value in inputs.items():
        text = text.replace("${{ inputs." + name + " }}", value)
    return text.replace("${{ github.action_path }}", str(ROOT))


def _run_step(step: dict[str, Any], inputs: dict[str, str], cwd: Path, bin_dir: Path) -> Any:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }
    env.update({k: _expand(str(v), inputs) for k, v in step.get("env", {}).items()})
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def journeydsl_on_path(tmp_path: Path) -> Path:
    """A `journeydsl` command on PATH that runs this checkout (the Action's install step does
    this with pip on the runner)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "journeydsl"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m journeydsl "$@"\n', encoding="utf-8")
    script.chmod(0o755)
    return bin_dir


def test_the_action_is_a_composite_of_bash_steps() -> None:
    """Every step of the composite runs in bash, reads inputs through env (no injection into
    the script) and the inputs have descriptions."""
    action = _action()
    assert action["runs"]["using"] == "composite"
    steps = action["runs"]["steps"]
    assert [s["name"] for s in steps] == [
        "Install journeydsl",
        "Check journeys",
        "Run scenario tests",
    ]
    for step in steps:
        assert step["shell"] == "bash"
        assert "${{" not in step["run"]
    assert all(spec.get("description") for spec in action["inputs"].values())


def test_the_action_command_lines_check_and_test(project: Path, journeydsl_on_path: Path) -> None:
    """The Action's check step annotates a broken journey (`::error file=…`) and fails; on the
    examples check and the scenario tests pass."""
    steps = {s["name"]: s for s in _action()["runs"]["steps"]}
    inputs = {"paths": "examples", "tests": "examples", "policies": "", "install": ""}
    done = _run_step(steps["Check journeys"], inputs, project, journeydsl_on_path)
    assert done.returncode == 1
    assert "::error file=examples/broken.journey,line=5,col=4" in done.stdout
    (project / "examples" / "broken.journey").unlink()
    done = _run_step(steps["Check journeys"], inputs, project, journeydsl_on_path)
    assert done.returncode == 0, done.stdout + done.stderr
    done = _run_step(steps["Run scenario tests"], inputs, project, journeydsl_on_path)
    assert done.returncode == 0, done.stdout + done.stderr
    inputs["policies"] = "examples/policies.yaml"
    done = _run_step(steps["Check journeys"], inputs, project, journeydsl_on_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_action_install_step_installs_this_package_by_default() -> None:
    """Without `install`, pip is given the action's own folder."""
    step = _action()["runs"]["steps"][0]
    assert 'pip install --quiet "${INSTALL:-$ACTION_PATH}"' in step["run"]
    assert step["env"]["ACTION_PATH"] == "${{ github.action_path }}"
