"""Static files storage: compressed, with content-hashed (cache-busting) names."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    # Also rewrite `import ... from "./x.js"` in JavaScript modules to hashed names, so the
    # web app's modules are cache-busted like every other asset (Django 4.2+, opt-in).
    support_js_module_import_aggregation = True
