from __future__ import annotations

import json

from scans.selectors.model_versions import active_model_version


def test_no_active_file_means_no_active_model(tmp_path):
    assert active_model_version(models_dir=tmp_path) is None


def test_an_empty_active_file_means_no_active_model(tmp_path):
    (tmp_path / "ACTIVE").write_text("\n")
    assert active_model_version(models_dir=tmp_path) is None


def test_an_active_version_without_metadata_is_named_with_no_metadata(tmp_path):
    (tmp_path / "ACTIVE").write_text("v1")
    active = active_model_version(models_dir=tmp_path)
    assert (active.id, active.path, active.metadata) == ("v1", tmp_path / "v1", None)


def test_active_model_version_reads_metadata_of_the_named_version(tmp_path):
    (tmp_path / "v1").mkdir()
    metadata = {"version": "v1", "class_names": ["Cyst", "Normal"]}
    (tmp_path / "v1" / "metadata.json").write_text(json.dumps(metadata))
    (tmp_path / "ACTIVE").write_text("v1\n")
    active = active_model_version(models_dir=tmp_path)
    assert (active.id, active.path, active.metadata) == ("v1", tmp_path / "v1", metadata)
    assert active.class_names == ("Cyst", "Normal")


def test_active_model_version_is_the_settings_models_folders(settings, tmp_path):
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "metadata.json").write_text(json.dumps({"version": "v2"}))
    (tmp_path / "ACTIVE").write_text("v2\n")
    settings.MODELS_DIR = tmp_path
    assert active_model_version().id == "v2"
