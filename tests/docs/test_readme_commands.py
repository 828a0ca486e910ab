"""Every command block of the README, run verbatim in a new shell.

A block runs as `bash -e` in the checkout with only PATH and HOME from this
machine (no venv activated, no DJANGO_DEBUG typed): its settings come from a
`.env` written by the Makefile rule `make run` uses. The only other variables
say where this test keeps its state (database, media, broker), so the checkout's
own `var/` is never touched. The state is that of a fresh `make run`: migrated,
the demo user created.

A block preceded by `<!-- readme-test: ... -->` is marked:
- `not a command`: a listing or Python code, never run;
- `skip: REASON`: needs a running site, the internet or hours of training; its
  `manage.py` commands and their options are still checked against `--help`;
- `input: TEXT`: run with TEXT on stdin (`\\n` is a new line), as typed at a prompt.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import stack

ROOT = Path(__file__).resolve().parent.parent.parent
MARKER = re.compile(r"^<!-- readme-test: (.+?) -->$")


@dataclass
class Block:
    line: int  # 1-based line of the block's first line in README.md
    text: str
    marker: str  # empty when unmarked

    @property
    def id(self) -> str:
        return f"line{self.line}-{self.text.split()[0]}"


def readme_blocks() -> list[Block]:
    """Indented code blocks (four spaces after a blank line) and fenced ones."""
    lines = (ROOT / "README.md").read_text().splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        start = i
        body: list[str] = []
        if lines[i].startswith("```"):
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            start += 1
        elif lines[i].startswith("    ") and (i == 0 or not lines[i - 1].strip()):
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                body.append(lines[i][4:])
                i += 1
            i -= 1
        if body:
            previous = next((line for line in reversed(lines[:start]) if line.strip()), "")
            match = MARKER.match(previous.strip())
            text = "\n".join(body).strip("\n") + "\n"
            blocks.append(Block(start + 1, text, match.group(1) if match else ""))
        i += 1
    return blocks


BLOCKS = readme_blocks()


@pytest.fixture(scope="module")
def new_shell(tmp_path_factory) -> dict[str, str]:
    """The environment of a new shell after a first `make run`."""
    state = tmp_path_factory.mktemp("readme")
    env = stack.new_shell_env(state)
    env_file = env["KIDNEYWEB_ENV_FILE"]
    # The very rule `make run` uses to write .env.
    subprocess.run(
        ["make", "-s", env_file, f"KIDNEYWEB_ENV_FILE={env_file}"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    for command in ("migrate", "ensure_demo_user"):
        shell(f".venv/bin/python manage.py {command}\n", env)
    return env


def shell(script: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,  # no terminal: a password prompt reads stdin
    )
    assert result.returncode == 0, (
        f"README block failed ({result.returncode}):\n{script}\n"
        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )
    return result


def check_commands_and_options(block: Block, env: dict[str, str]) -> None:
    """Each `manage.py COMMAND --option` of a block that is not run exists."""
    for line in block.text.replace("\\\n", " ").splitlines():
        match = re.search(r"manage\.py (\w+)(.*)", line)
        if not match:
            continue
        command, rest = match.groups()
        help_text = shell(f".venv/bin/python manage.py {command} --help\n", env).stdout
        for option in re.findall(r"(--[a-z][a-z-]*)", rest.split("#")[0]):
            assert option in help_text, f"README line {block.line}: {command} has no {option}"


def test_some_readme_blocks_are_run():
    assert any(not block.marker or block.marker.startswith("input: ") for block in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_readme_block_works_in_a_new_shell(block: Block, new_shell):
    if block.marker == "not a command":
        return
    if block.marker.startswith("skip: "):
        check_commands_and_options(block, new_shell)
        pytest.skip(f"README line {block.line} not run: {block.marker[6:]}")
    stdin = ""
    if block.marker.startswith("input: "):
        stdin = block.marker[7:].replace("\\n", "\n")
    else:
        assert not block.marker, f"README line {block.line}: unknown marker {block.marker!r}"
    shell(block.text, new_shell, stdin)
