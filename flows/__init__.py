"""Prefect flows: thin wiring of the library packages (curation, sync_classifier, model)."""

import logging

# The libraries report progress through their own loggers at INFO. Prefect attaches its console and
# API handlers to them (pyproject.toml, [tool.prefect.logging] extra_loggers), but their level would
# default to the root logger's WARNING and hide that progress.
for _name in ("curation", "sync_classifier", "model"):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.INFO)

# A sane start-up budget for the embedded Prefect API, and no orphaned API server after a kill.
from flows.embedded_api import install as _install_embedded_api  # noqa: E402

_install_embedded_api()
