"""Stable names shared by flows and the dashboard: deployments, artifact keys, blocks (no Prefect import)."""

from __future__ import annotations

# Deployments, as `flow-name/deployment-name`.
INGESTION = "create-names/ingestion"

# Artifacts and blocks the ingestion flow writes.
USERS_BLOCK_NAME = "all-users-json"
USERS_ARTIFACT_KEY = "users-table"
USER_SOURCE_ARTIFACT_KEY = "ingestion-source"
