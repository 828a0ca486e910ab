from __future__ import annotations

import json

import pytest

from mlcore import versions


@pytest.fixture
def source(tmp_path):
    folder = tmp_path / "models" / "20260101-000000"
    folder.mkdir(parents=True)
    (folder / "model.keras").write_bytes(b"weights")
    metadata = {"version": folder.name, "created": "2026-01-01T00:00:00+00:00", "metrics": {}}
    (folder / "metadata.json").write_text(json.dumps(metadata))
    return folder


def test_derived_version_has_the_same_files_and_names_its_source(source):
    root = source.parent
    derived = versions.derive_version(root, source, {"calibration": {"temperature": 1.5}})

    metadata = versions.read_metadata(derived)
    assert derived.parent == root and derived.name != source.name
    assert (derived / "model.keras").read_bytes() == b"weights"
    assert metadata["version"] == derived.name
    assert metadata["created"] != "2026-01-01T00:00:00+00:00"
    assert metadata["derived_from"] == source.name
    assert metadata["calibration"] == {"temperature": 1.5}
    assert versions.read_metadata(source)["version"] == source.name  # never edited
    assert sorted(p.name for p in root.iterdir()) == sorted([source.name, derived.name])


def test_a_version_that_fails_half_way_leaves_nothing(source):
    root = source.parent
    # Metadata that cannot be written as JSON: the last step, after the files are copied.
    with pytest.raises(TypeError):
        versions.derive_version(root, source, {"calibration": object()})

    assert [p.name for p in root.iterdir()] == [source.name]  # no partial folder


def test_two_versions_in_one_second_get_two_ids(source):
    first = versions.derive_version(source.parent, source, {})
    second = versions.derive_version(source.parent, source, {})
    assert first != second and first.is_dir() and second.is_dir()
