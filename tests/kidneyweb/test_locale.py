"""The Bahasa Indonesia catalogues (locale/id/LC_MESSAGES): every entry translated and
not fuzzy, the committed .mo files compiled from the .po files as they are, and the .po
files up to date with the sources (the README's makemessages command, run on a copy)."""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
MESSAGES = ROOT / "locale" / "id" / "LC_MESSAGES"
DOMAINS = ("django", "djangojs")
# As in the README's "Languages" section.
IGNORE = [".venv/*", "var/*", "tests/*", "bench/*", "docs/*", "scans/static/vendor/*"]
FIELD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) (".*")$')


def po_entries(path: Path) -> list[dict]:
    """Each entry of a .po file: its fields, its flags, whether it is obsolete (#~)."""
    entries = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        entry: dict = {"flags": "", "obsolete": False}
        key = None
        for line in block.splitlines():
            if line.startswith("#~"):
                entry["obsolete"] = True
            elif line.startswith("#,"):
                entry["flags"] += line
            elif line.startswith("#"):
                continue
            elif match := FIELD.match(line):
                key = match.group(1)
                entry[key] = ast.literal_eval(match.group(2))
            elif line.startswith('"') and key:
                entry[key] += ast.literal_eval(line)
        if "msgid" in entry or entry["obsolete"]:
            entries.append(entry)
    return entries


def messages(path: Path) -> list[dict]:
    """The entries that are messages: not the header, not obsolete."""
    return [e for e in po_entries(path) if e.get("msgid") and not e["obsolete"]]


def msgstrs(entry: dict) -> list[str]:
    return [value for key, value in entry.items() if key.startswith("msgstr")]


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_entry_is_translated_and_none_is_fuzzy(domain):
    entries = messages(MESSAGES / f"{domain}.po")
    assert entries
    untranslated = [e["msgid"] for e in entries if not all(msgstrs(e))]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    obsolete = [e.get("msgid", "") for e in po_entries(MESSAGES / f"{domain}.po") if e["obsolete"]]
    assert untranslated == []
    assert fuzzy == []
    assert obsolete == []  # left by makemessages when a string went away: delete them


@pytest.mark.parametrize("domain", DOMAINS)
def test_placeholders_are_kept(domain):
    placeholder = re.compile(r"%\(\w+\)[sd]|\{\w*\}|<[^>]+>")
    for entry in messages(MESSAGES / f"{domain}.po"):
        source = entry.get("msgid_plural", entry["msgid"])
        for translation in msgstrs(entry):
            assert sorted(placeholder.findall(translation)) == sorted(
                placeholder.findall(source)
            ), entry["msgid"]


@pytest.mark.parametrize("domain", DOMAINS)
def test_committed_mo_is_compiled_from_the_po(domain):
    with open(MESSAGES / f"{domain}.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    for entry in messages(MESSAGES / f"{domain}.po"):
        if "msgid_plural" in entry:
            assert (
                compiled.ngettext(entry["msgid"], entry["msgid_plural"], 2) == (entry["msgstr[0]"])
            ), entry["msgid"]
        else:
            assert compiled.gettext(entry["msgid"]) == entry["msgstr"], entry["msgid"]
    expected = {e["msgid"] for e in messages(MESSAGES / f"{domain}.po")}
    assert {key if isinstance(key, str) else key[0] for key in compiled._catalog} - {""} == (
        expected
    )


@pytest.mark.skipif(
    shutil.which("xgettext") is None or shutil.which("msgmerge") is None,
    reason="GNU gettext is not installed (apt-get install gettext): cannot run makemessages",
)
def test_po_files_are_up_to_date_with_the_sources(tmp_path):
    """makemessages on a copy of the sources adds no message and makes none obsolete."""
    copy = tmp_path / "checkout"
    top_level = {".git", ".venv", "var", "models", "docs", "tests", "bench"}  # not scans/models
    shutil.copytree(
        ROOT,
        copy,
        ignore=lambda folder, names: top_level & set(names) if Path(folder) == ROOT else set(),
    )
    env = {**os.environ, "DJANGO_DEBUG": "1", "KIDNEYWEB_ENV_FILE": os.devnull}
    options = ["-l", "id", "--no-location", *[f"--ignore={pattern}" for pattern in IGNORE]]
    for domain in DOMAINS:
        subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-d", domain, *options],
            cwd=copy,
            env=env,
            check=True,
            capture_output=True,
        )
        ours = {e["msgid"] for e in messages(MESSAGES / f"{domain}.po")}
        fresh = po_entries(copy / "locale" / "id" / "LC_MESSAGES" / f"{domain}.po")
        current = {e["msgid"] for e in fresh if e.get("msgid") and not e["obsolete"]}
        assert current - ours == set(), f"{domain}: new strings; run the README's commands"
        assert ours - current == set(), f"{domain}: strings no longer in the sources"
