"""Stable names shared by flows and the dashboard: deployments, artifact keys, blocks (no Prefect import)."""

from __future__ import annotations

# Deployments, as `flow-name/deployment-name`.
INGESTION = "create-names/ingestion"

# Artifacts and blocks the ingestion flow writes.
USERS_BLOCK_NAME = "all-users-json"
USERS_ARTIFACT_KEY = "users-table"
USER_SOURCE_ARTIFACT_KEY = "ingestion-source"
FEATURE_SELECTION = "remove-features"  # a subflow of ingestion, not a deployment of its own
APPROVAL = "create-artifact/approval"
INSIGHTS = "extract-user-insights/insights"

# Artifacts and blocks of feature dropping and approval.
CLEANED_USERS_BLOCK_NAME = "cleaned-users-json"
CLEANED_USERS_ARTIFACT_KEY = "cleaned-users-table"
FEATURE_PROFILE_ARTIFACT_KEY = "feature-profile"
APPROVED_TABLE_ARTIFACT_KEY = "name-table"
APPROVAL_NOTE_ARTIFACT_KEY = "name-table-approval"
AUDIT_ARTIFACT_KEY = "audit-trail"

# Artifacts of the insights flow.
INSIGHT_ARTIFACT_KEY = "user-insights"
INSIGHT_TABLE_ARTIFACT_KEY = "user-insights-table"
AUTOHELPER = "sentiment-autohelper/autohelper"
AUTOHELPER_SUMMARY_ARTIFACT_KEY = "autohelper-split"
AUTOHELPER_PROGRESS_ARTIFACT_KEY = "autohelper-progress"
CROWD_LOOP = "crowd-loop/crowd"
CROWD_PROGRESS_ARTIFACT_KEY = "crowd-progress"
FINAL_TABLE_ARTIFACT_KEY = "aggregated-sentiment"
RETRAIN = "retrain-autohelper/retrain"
RETRAIN_PROGRESS_ARTIFACT_KEY = "retrain-progress"
RETRAIN_REPORT_ARTIFACT_KEY = "autohelper-retrain"
