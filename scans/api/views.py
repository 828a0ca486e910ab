"""The REST API (/api/v1/): thin views over the same services and selectors as the pages."""

from __future__ import annotations

import re

from django.conf import settings
from django.http import FileResponse
from django.utils.translation import gettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scans.access import scan_get_or_404, scan_get_to_delete
from scans.api.serializers import (
    HealthSerializer,
    ModelVersionSerializer,
    ScanFilterSerializer,
    ScanSerializer,
    UploadErrorSerializer,
    UploadResultSerializer,
    UploadSerializer,
)
from scans.audit import audit_request, client_ip
from scans.files import image_content_type, private_file
from scans.models import AuditEvent, ModelVersion, Scan
from scans.selectors.health import system_health
from scans.selectors.model_versions import active_model_version
from scans.selectors.scans import scan_list_visible_to
from scans.services.uploads import scan_delete, scans_upload

ERRORS = {
    401: OpenApiResponse(description="No or invalid credentials."),
    429: OpenApiResponse(description="Too many requests: wait for Retry-After seconds."),
}
WHOLE_NUMBER = re.compile(r"[0-9]+")
SCAN_ERRORS = {**ERRORS, 404: OpenApiResponse(description="No such scan, or not yours.")}


class ScanPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        """KIDNEYWEB_API_PAGE_SIZE, or ``page_size`` (at most 100); a value that is not a
        positive whole number is an error, not silently the default."""
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return settings.API_PAGE_SIZE
        # ASCII digits only: str.isdigit() also admits "²", which int() refuses (a 500);
        # a number of many digits is simply more than the most (int() refuses > 4,300).
        if len(values) > 1 or not WHOLE_NUMBER.fullmatch(values[0]):
            raise exceptions.ValidationError({"page_size": [gettext("A positive whole number.")]})
        size = int(values[0]) if len(values[0]) <= 9 else self.max_page_size
        if size < 1:
            raise exceptions.ValidationError({"page_size": [gettext("A positive whole number.")]})
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = f"Scans per page; more than {self.max_page_size} "
                parameter["description"] += f"gives {self.max_page_size}."
        return parameters


class ScanListView(generics.GenericAPIView):
    """Your scans (reviewers and admins: everybody's), newest first; upload new ones."""

    serializer_class = ScanSerializer
    pagination_class = ScanPagination
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="scans_list",
        parameters=[ScanFilterSerializer],
        responses={
            200: ScanSerializer(many=True),
            400: OpenApiResponse(),
            404: OpenApiResponse(description="No such page."),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        filters = ScanFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        scans = scan_list_visible_to(user=request.user, **filters.filters())
        page = self.paginate_queryset(scans.select_related("owner", "review__reviewer"))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="scans_upload",
        request={"multipart/form-data": UploadSerializer},
        responses={
            202: UploadResultSerializer,
            400: UploadErrorSerializer,
            403: OpenApiResponse(description="This account may not upload."),
            503: OpenApiResponse(
                UploadErrorSerializer,
                description="Nothing was kept: the server could not store the files.",
            ),
            **ERRORS,
        },
        description=(
            "Store each accepted file as a queued scan and send it to the workers: "
            "202 with the scans (poll their `links.self`) and the files refused, each "
            "with its reason. 400 when no file was accepted (`rejected` says why for "
            "each) or the request is not valid (`errors`): nothing is stored. 503 when "
            "nothing was kept because the server could not store the files."
        ),
    )
    def post(self, request: Request) -> Response:
        if not request.user.has_perm("scans.add_scan"):
            raise exceptions.PermissionDenied(gettext("This account may not upload scans."))
        upload = UploadSerializer(data=request.data)
        if not upload.is_valid():
            body = {"detail": gettext("The upload is not valid."), "errors": upload.errors}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        result = scans_upload(owner=request.user, ip=client_ip(request), **upload.validated_data)
        rejected = [{"name": r.name, "reason": r.reason} for r in result.rejected]
        if result.server_fault:
            body = {
                "detail": gettext("The server could not store the files."),
                "rejected": rejected,
            }
            return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        if not result.scans:
            body = {"detail": gettext("No file was accepted."), "rejected": rejected}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        scans = self.get_serializer(result.scans, many=True).data
        return Response({"scans": scans, "rejected": rejected}, status=status.HTTP_202_ACCEPTED)


class ScanDetailView(APIView):
    @extend_schema(operation_id="scans_retrieve", responses={200: ScanSerializer, **SCAN_ERRORS})
    def get(self, request: Request, scan_id: int) -> Response:
        """One scan: its status and, once done, the AI reading and any review."""
        scan = scan_get_or_404(user=request.user, scan_id=scan_id)
        if scan.status == Scan.Status.DONE:  # polling a queued scan discloses nothing
            audit_request(request, action=AuditEvent.Action.VIEW_RESULT, obj=scan, api=True)
        return Response(ScanSerializer(scan, context={"request": request}).data)

    @extend_schema(
        operation_id="scans_destroy",
        responses={
            204: None,
            403: OpenApiResponse(description="Not yours: only admins delete others' scans."),
            **SCAN_ERRORS,
        },
    )
    def delete(self, request: Request, scan_id: int) -> Response:
        """Delete the scan, its image, readings and reviews (audited). Your own scans;
        reviewers see others' scans but only admins delete them."""
        scan = scan_get_to_delete(user=request.user, scan_id=scan_id)
        scan_delete(scan=scan, actor=request.user, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ScanImageView(APIView):
    @extend_schema(
        operation_id="scans_image",
        responses={
            (200, "image/png"): OpenApiTypes.BINARY,
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            **SCAN_ERRORS,
        },
    )
    def get(self, request: Request, scan_id: int) -> FileResponse:
        """The stored image (for DICOM uploads, the windowed slice as PNG)."""
        scan = scan_get_or_404(user=request.user, scan_id=scan_id)
        audit_request(request, action=AuditEvent.Action.VIEW_IMAGE, obj=scan, api=True)
        return private_file(scan.image, image_content_type(scan))

    def perform_content_negotiation(self, request: Request, force: bool = False):
        # The file bypasses renderers; errors are JSON whatever the client accepts.
        return super().perform_content_negotiation(request, force=True)


class ModelVersionListView(APIView):
    @extend_schema(
        operation_id="models_list",
        responses={200: ModelVersionSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        """Every model version, its held-out metrics, and which one reads new scans."""
        versions = ModelVersion.objects.order_by("-created", "-id")
        active = active_model_version()
        context = {"active_id": active.id if active else None}
        return Response(ModelVersionSerializer(versions, many=True, context=context).data)


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    @extend_schema(
        operation_id="health",
        auth=[],
        responses={200: HealthSerializer, 503: HealthSerializer},
    )
    def get(self, request: Request) -> Response:
        """Database, broker and model status for load balancers: 200 when all can
        serve, 503 otherwise. No authentication; no secrets."""
        checks = system_health(models_dir=settings.MODELS_DIR, runtime=settings.INFERENCE_RUNTIME)
        healthy = all(check["ok"] for check in checks.values())
        body = {"status": "ok" if healthy else "unavailable", **checks}
        return Response(body, status=200 if healthy else 503)
