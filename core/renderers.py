"""The JSON response renderer: orjson through drf-orjson-renderer.

Output is compact UTF-8 JSON, as DRF's JSONRenderer writes it by default, produced several
times faster; the browsable API still gets it indented.
"""

from drf_orjson_renderer.renderers import ORJSONRenderer


class JSONRenderer(ORJSONRenderer):
    """The API's JSON renderer (named here so settings and views refer to one class)."""
