from __future__ import annotations

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import get_resolver

pytestmark = pytest.mark.django_db


def test_schema_is_valid_openapi_3_and_generates_without_warnings(tmp_path):
    path = tmp_path / "schema.yaml"
    # --validate checks against the OpenAPI 3 JSON schema; --fail-on-warn turns any
    # endpoint the generator could not describe into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    schema = yaml.safe_load(path.read_text())
    assert schema["openapi"].startswith("3.")


def test_schema_describes_every_api_route(api_as, alice):
    schema = yaml.safe_load(api_as(alice).get("/api/v1/schema/").content)
    documented = set(schema["paths"])
    routes = {
        "/api/v1/" + re.sub(r"<int:(\w+)>", r"{\1}", str(pattern.pattern))
        for pattern in get_resolver("scans.api.urls").url_patterns
        if pattern.name not in ("api-schema", "api-docs")
    }
    assert documented == routes
    prediction = schema["components"]["schemas"]["Prediction"]["properties"]
    assert {"label", "confidence", "probabilities", "uncertain", "out_of_distribution"} <= set(
        prediction
    )


def test_schema_needs_credentials_and_docs_a_login(api):
    assert api.get("/api/v1/schema/").status_code == 401
    response = api.get("/api/v1/docs/")
    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/api/v1/docs/"


def test_docs_page_loads_swagger_ui_from_our_own_static_files(client, alice):
    client.force_login(alice)
    page = client.get("/api/v1/docs/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("swagger-ui-bundle.js" in s for s in sources)
    for source in sources:
        assert not source.startswith(("http:", "https:", "//")), source  # no CDN
        if source.startswith("/static/"):
            assert finders.find(source.removeprefix("/static/")), source


def test_schema_says_what_a_404_means_for_each_operation(api_as, alice):
    paths = yaml.safe_load(api_as(alice).get("/api/v1/schema/").content)["paths"]

    def not_found(path, method):
        return paths[path][method]["responses"].get("404", {}).get("description")

    assert not_found("/api/v1/scans/", "get") == "No such page."
    assert not_found("/api/v1/scans/", "post") is None  # an upload never answers 404
    for path, method in [
        ("/api/v1/scans/{scan_id}/", "get"),
        ("/api/v1/scans/{scan_id}/", "delete"),
        ("/api/v1/scans/{scan_id}/image", "get"),
    ]:
        assert not_found(path, method) == "No such scan, or not yours."
