"""Running amili-etl under an orchestrator (Dagster: etl.orchestrate.dagster); nothing here imports dagster but that module."""
