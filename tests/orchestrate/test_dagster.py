"""amili-etl as a Dagster code location, in-process against the sandbox over real HTTP (skipped without the extra).

Three creditor partitions come from a registry (a bureau file with two creditors and a folder with a third); the
inbox sensor asks for one run per creditor, a second look at the same files asks for none, the runs deliver every
key once, a repeated drop sends nothing again, and the month-end schedule closes last month per creditor.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

dg = pytest.importorskip("dagster")

from etl.inbox import pending_files  # noqa: E402
from etl.orchestrate.definitions import InboxRunConfig, build_definitions  # noqa: E402 - only with dagster
from etl.orchestrate.limits import CREDITOR_TAG, concurrency_settings, family_tag  # noqa: E402
from etl.orchestrate.registry import load_settings  # noqa: E402
from tests.ops.support import SAMPLE_ITEMS, assert_each_key_once, ledger  # noqa: E402
from tests.orchestrate.support import FJORD, FJORD_ITEMS, SECRETS, build_registry  # noqa: E402

CREDITORS = ["fjord-no", "nordlys-no", "solkraft-se"]


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The creditors' secrets in the environment, as the Dagster process would have them."""
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)


def _tick(defs: dg.Definitions, name: str, instance: dg.DagsterInstance, cursor: str | None = None):  # noqa: ANN202
    # As the sensor daemon does: dynamic partition keys are looked up in the instance.
    with dg.partition_loading_context(dynamic_partitions_store=instance), \
            dg.build_sensor_context(instance=instance, cursor=cursor, resources=defs.resources,
                                    definitions=defs) as context:
        return defs.resolve_sensor_def(name).evaluate_tick(context)


def _run(defs: dg.Definitions, job: str, request: dg.RunRequest, instance: dg.DagsterInstance, **kw: object):  # noqa: ANN202
    run_config = request.run_config if request.run_config else None
    return defs.resolve_job_def(job).execute_in_process(partition_key=request.partition_key, tags=request.tags,
                                                        instance=instance, run_config=run_config, **kw)


def _materialization(result, asset: str) -> dict[str, object]:  # noqa: ANN001
    [event] = result.asset_materializations_for_node(asset)
    return {k: v.value for k, v in event.metadata.items()}


def test_three_creditor_partitions_deliver_each_key_once(tmp_path: Path, sandbox, secrets_env: None) -> None:
    root = tmp_path / "registry"
    dropped = build_registry(root, sandbox.base_url)
    defs = build_definitions(root)
    settings = load_settings(root)
    with dg.instance_for_test(overrides={"concurrency": concurrency_settings(settings)}) as instance:
        # The instance enforces one run per creditor and [pools] runs per Amili API family (orchestration.toml).
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert {"key": CREDITOR_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
        assert {"key": family_tag("arm"), "limit": 2} in limits

        # The registry sensor adds a partition per creditor; the daemon applies the request.
        reg_tick = _tick(defs, "creditor_registry_sensor", instance)
        [add] = reg_tick.dynamic_partitions_requests
        assert sorted(add.partition_keys) == CREDITORS
        instance.add_dynamic_partitions("creditor", list(add.partition_keys))
        assert _tick(defs, "creditor_registry_sensor", instance).dynamic_partitions_requests == []

        # First look: one run per creditor, tagged with its name and the API families it talks to.
        first = _tick(defs, "creditor_inbox_sensor", instance)
        requests = {r.partition_key: r for r in first.run_requests}
        assert sorted(requests) == CREDITORS
        ours = {name: {k: v for k, v in r.tags.items() if k.startswith("amili-etl/")} for name, r in requests.items()}
        assert ours["solkraft-se"] == {CREDITOR_TAG: "solkraft-se", family_tag("ada"): "true"}
        assert ours[FJORD] == {CREDITOR_TAG: FJORD, family_tag("arm"): "true"}
        # Second look at the same files (the runs still queued): no run at all, the run keys unchanged.
        second = _tick(defs, "creditor_inbox_sensor", instance, first.cursor)
        assert second.run_requests == []
        assert json.loads(second.cursor) == json.loads(first.cursor)

        metas = {}
        for name in CREDITORS:
            result = _run(defs, "creditor_inbox_job", requests[name], instance)
            assert result.success
            metas[name] = _materialization(result, "creditor_inbox")
            run = instance.get_run_by_id(result.run_id)
            assert run.tags[CREDITOR_TAG] == name and run.tags["amili-etl/exit_code"] == str(metas[name]["exit_code"])

        items = ledger(sandbox.base_url)
        assert len(items) == SAMPLE_ITEMS + FJORD_ITEMS
        assert_each_key_once(items)
        # The summary as metadata: counts per category, sent per API, the report paths; the sample data's planted
        # problems make nordlys-no exit 1 (discrepancies: still a success), fjord-no's clean night exits 0.
        assert metas[FJORD]["exit_code"] == 0 and metas[FJORD]["sent"] == {
            **{k: 0 for k in metas[FJORD]["sent"]}, "arm.documents": 3, "arm.paymentreservations": 3}
        assert metas["nordlys-no"]["exit_code"] == 1 and metas["nordlys-no"]["counts"]
        assert sum(m["sent_total"] for m in metas.values()) == len(items)
        for name, meta in metas.items():
            assert Path(meta["workbook"]).is_file() and Path(meta["summary"]).is_file()
            assert meta["files"]["archived"] == len(dropped[name])
        # Each creditor has its own state file ({creditor} in [state].path of the bureau file).
        assert sorted(p.name for p in (root / "bureau" / "state").glob("*.duckdb")) == ["nordlys-no.duckdb",
                                                                                     "solkraft-se.duckdb"]
        assert pending_files(root / "bureau" / "inbox" / "nordlys-no") == []

        # The bank sends fjord-no's file again a week later: a new drop, so a new run, which sends nothing twice.
        archived = next((root / FJORD / "inbox" / FJORD / "archive").iterdir())
        shutil.copy(archived / "sparebank1_fjord_2026-11-20.csv", root / FJORD / "inbox" / FJORD / "sb1-again.csv")
        third = _tick(defs, "creditor_inbox_sensor", instance, second.cursor)
        [again] = third.run_requests
        assert again.partition_key == FJORD and again.run_key not in {r.run_key for r in first.run_requests}
        meta = _materialization(_run(defs, "creditor_inbox_job", again, instance), "creditor_inbox")
        assert meta["files"]["already_imported"] == 1 and meta["status"] == "nothing new"
        assert ledger(sandbox.base_url) == items

        # Month-end on the 8th closes November for every creditor partition, one run each.
        schedule = defs.resolve_schedule_def("creditor_month_end_schedule")
        with dg.partition_loading_context(dynamic_partitions_store=instance), \
                dg.build_schedule_context(instance=instance, resources=defs.resources,
                                          repository_def=defs.get_repository_def(),
                                          scheduled_execution_time=dt.datetime(2026, 12, 8, 6, 0)) as context:
            month_end = schedule.evaluate_tick(context).run_requests
        assert sorted(r.partition_key for r in month_end) == CREDITORS
        assert {r.tags["amili-etl/period"] for r in month_end} == {"2026-11"}
        fjord_month = next(r for r in month_end if r.partition_key == FJORD)
        result = _run(defs, "creditor_month_end_job", fjord_month, instance, raise_on_error=False)
        # Whatever the month's verdict, the run carries it: the workbook path and status as run tags, the exit code
        # mapped (0 and 1 a success, 3 "incomplete" a failure to look at).
        run = instance.get_run_by_id(result.run_id)
        code = int(run.tags["amili-etl/exit_code"])
        assert result.success == (code in (0, 1))
        assert Path(run.tags["amili-etl/workbook"]).is_file()
        assert run.tags["amili-etl/workbook"].endswith("period-2026-11/discrepancies.xlsx")
        assert run.tags["amili-etl/status"] == {0: "clean", 1: "discrepancies", 3: "incomplete"}[code]


def test_a_failed_night_is_a_failed_run_with_the_summary(tmp_path: Path, sandbox, secrets_env: None) -> None:
    root = tmp_path / "registry"
    build_registry(root, sandbox.base_url)
    inbox = root / FJORD / "inbox" / FJORD
    for f in inbox.iterdir():
        f.unlink()
    (inbox / "notes.txt").write_text("not a bank file\n", encoding="utf-8")
    defs = build_definitions(root)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("creditor", [FJORD])
        [request] = _tick(defs, "creditor_inbox_sensor", instance).run_requests
        result = _run(defs, "creditor_inbox_job", request, instance, raise_on_error=False)
        assert not result.success
        [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        data = failure.step_failure_data
        assert "exit 3" in data.error.message and data.user_failure_data.metadata["exit_code"].value == 3
        assert (inbox / "failed" / "notes.txt.error.txt").is_file()
        assert instance.get_run_by_id(result.run_id).tags["amili-etl/exit_code"] == "3"
    assert ledger(sandbox.base_url) == []


def test_amili_unreachable_is_retried_then_fails_and_the_files_wait(tmp_path: Path, secrets_env: None) -> None:
    root = tmp_path / "registry"
    build_registry(root, "http://127.0.0.1:9")  # nothing listens on the discard port: every connection refused
    config = root / FJORD / "amili-etl.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "timeout_s = 5", "timeout_s = 1\nmax_attempts = 1\nmax_retry_time_s = 1"), encoding="utf-8")
    defs = build_definitions(root)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("creditor", [FJORD])
        [request] = _tick(defs, "creditor_inbox_sensor", instance).run_requests
        retry_now = dg.RunRequest(partition_key=FJORD, tags=request.tags, run_config=dg.RunConfig(
            ops={"creditor_inbox": InboxRunConfig(max_retries=1, retry_wait_s=0)}))
        result = _run(defs, "creditor_inbox_job", retry_now, instance, raise_on_error=False)
        assert not result.success
        kinds = [e.event_type_value for e in result.all_events if e.step_key == "creditor_inbox"]
        assert kinds.count("STEP_UP_FOR_RETRY") == 1 and kinds.count("STEP_FAILURE") == 1
        assert instance.get_run_by_id(result.run_id).tags["amili-etl/exit_code"] == "75"
    # Nothing lost: both files wait in the inbox for the next run.
    assert sorted(p.name for p in pending_files(root / FJORD / "inbox" / FJORD)) == [
        "invoices_fjord_2026-11-18.csv", "sparebank1_fjord_2026-11-20.csv"]


def test_definitions_validate_with_the_registry_from_the_environment(tmp_path: Path) -> None:
    build_registry(tmp_path / "registry", "http://127.0.0.1:9")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMILI_", "DAGSTER_"))}
    dagster = Path(sys.executable).with_name("dagster")
    validate = [str(dagster), "definitions", "validate", "-m", "etl.orchestrate.dagster"]
    ok = subprocess.run(validate, capture_output=True, text=True, cwd=tmp_path, timeout=300,
                        env={**env, "AMILI_ETL_REGISTRY": str(tmp_path / "registry")})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    unset = subprocess.run(validate, capture_output=True, text=True, cwd=tmp_path, timeout=300, env=env)
    assert unset.returncode != 0
    assert "AMILI_ETL_REGISTRY is not set" in unset.stdout + unset.stderr


def test_the_registry_sensor_removes_a_creditor_only_when_the_registry_reads_cleanly(tmp_path: Path) -> None:
    root = tmp_path / "registry"
    build_registry(root, "http://127.0.0.1:9")
    defs = build_definitions(root)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("creditor", [*CREDITORS, "gone-no"])
        # fjord-no's file is broken today: its creditor is unknown, so nothing is removed (gone-no neither).
        (root / FJORD / "amili-etl.toml").write_text("[[creditor]]\nname = 'fjord-no'\n", encoding="utf-8")
        assert _tick(defs, "creditor_registry_sensor", instance).dynamic_partitions_requests == []
        shutil.rmtree(root / FJORD)
        [delete] = _tick(defs, "creditor_registry_sensor", instance).dynamic_partitions_requests
        assert isinstance(delete, dg.DeleteDynamicPartitionsRequest)
        assert sorted(delete.partition_keys) == [FJORD, "gone-no"]


def test_the_printed_instance_settings_are_the_limits() -> None:
    import yaml

    from etl.orchestrate.limits import concurrency_yaml
    from etl.orchestrate.registry import Settings

    settings = Settings(pools={"arm": 3, "collection": 1, "ada": 2})
    assert yaml.safe_load(concurrency_yaml(settings)) == {"concurrency": concurrency_settings(settings)}
