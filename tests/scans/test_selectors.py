from __future__ import annotations

import json

from scans.selectors import active_model_version


def test_no_active_file_means_no_active_model(tmp_path):
    assert active_model_version(models_dir=tmp_path) is None


def test_an_empty_active_file_means_no_active_model(tmp_path):
    (tmp_path / "ACTIVE").write_text("\n")
    assert active_model_version(models_dir=tmp_path) is None


def test_an_active_version_without_metadata_means_no_active_model(tmp_path):
    (tmp_path / "ACTIVE").write_text("v1")
    assert active_model_version(models_dir=tmp_path) is None


def test_active_model_version_reads_metadata_of_the_named_version(tmp_path):
    (tmp_path / "v1").mkdir()
    metadata = {"version": "v1", "class_names": ["Cyst", "Normal"]}
    (tmp_path / "v1" / "metadata.json").write_text(json.dumps(metadata))
    (tmp_path / "ACTIVE").write_text("v1\n")
    assert active_model_version(models_dir=tmp_path) == metadata
