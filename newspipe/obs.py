"""Logging setup in one place: one summary line per batch at INFO, per-message lines at DEBUG."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=FORMAT)
    # Client libraries log every connection at INFO; their warnings still show.
    for noisy in ("kafka", "elastic_transport", "aiokafka", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # kafka-python's admin client warns on every faust group it cannot decode (readiness polls).
    logging.getLogger("kafka.admin").setLevel(logging.ERROR)
