"""Renderers that only name the export formats for DRF's content negotiation.

The export view streams its own response, so these never render a body; they let
`?format=csv|jsonl` and `Accept: text/csv` select the format the DRF way.
"""

from typing import Any

from rest_framework.renderers import BaseRenderer

from books.exporting import MEDIA_TYPES


class ExportRenderer(BaseRenderer):
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        raise NotImplementedError("The export view streams its response itself.")


class CSVRenderer(ExportRenderer):
    media_type = MEDIA_TYPES["csv"]
    format = "csv"


class JSONLinesRenderer(ExportRenderer):
    media_type = MEDIA_TYPES["jsonl"]
    format = "jsonl"
