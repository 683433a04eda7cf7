"""Kafka's storage is formatted with whatever cluster id the state folder holds: one id in 64
starts with "-", which StorageTool read as an option when given as a separate word (a new
machine's `make run`, and the secured-Kafka test, failed then; seen in a `make test` run)."""

from __future__ import annotations

from pathlib import Path

from newspipe.config import Settings
from newspipe.tools.stack.kafka import _format_kafka, _kafka_properties, new_cluster_id
from tests.conftest import require_stack


def test_a_cluster_id_that_starts_with_a_dash_formats(tmp_path: Path) -> None:
    require_stack(Settings())  # the stack tier: Kafka's jars and Java are where `stack up` put them
    stack = Settings().stack.model_copy(update={"state_dir": tmp_path})
    (tmp_path / "kafka" / "data").mkdir(parents=True)
    cluster_id = "-" + new_cluster_id()[1:]
    (tmp_path / "kafka" / "cluster.id").write_text(cluster_id)
    props = tmp_path / "server.properties"
    props.write_text(_kafka_properties(stack))
    _format_kafka(stack, props)  # raises StackError with StorageTool's output if refused
    meta = (tmp_path / "kafka" / "data" / "meta.properties").read_text()
    assert f"cluster.id={cluster_id}" in meta
