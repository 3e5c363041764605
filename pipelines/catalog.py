"""Stable names shared by flows and the dashboard: deployments, artifact keys, blocks (no Prefect import)."""

from __future__ import annotations


class Deployment(str):
    """A deployment's full name, `flow-name/deployment-name`, as Prefect's API takes it; `.flow` and `.name` are its
    two halves (the flow's name filters its runs, the deployment's name is what `to_deployment` is given)."""

    @property
    def flow(self) -> str:
        return self.split("/")[0]

    @property
    def name(self) -> str:
        return self.split("/")[1]


INGESTION = Deployment("create-names/ingestion")

# Artifacts and blocks the ingestion flow writes.
USERS_BLOCK_NAME = "all-users-json"
USERS_ARTIFACT_KEY = "users-table"
USER_SOURCE_ARTIFACT_KEY = "ingestion-source"
FEATURE_SELECTION = "remove-features"  # a subflow of ingestion, not a deployment of its own
APPROVAL = Deployment("create-artifact/approval")
INSIGHTS = Deployment("extract-user-insights/insights")

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
AUTOHELPER = Deployment("sentiment-autohelper/autohelper")
AUTOHELPER_SUMMARY_ARTIFACT_KEY = "autohelper-split"
AUTOHELPER_PROGRESS_ARTIFACT_KEY = "autohelper-progress"
CROWD_LOOP = Deployment("crowd-loop/crowd")
CROWD_PROGRESS_ARTIFACT_KEY = "crowd-progress"
FINAL_TABLE_ARTIFACT_KEY = "aggregated-sentiment"
RETRAIN = Deployment("retrain-autohelper/retrain")
RETRAIN_PROGRESS_ARTIFACT_KEY = "retrain-progress"
RETRAIN_REPORT_ARTIFACT_KEY = "autohelper-retrain"

# The dashboard page (its address path) that shows each pausing flow's form; the page takes `?run=<id>`.
FORM_PAGES = {
    INGESTION.flow: "ingestion",
    FEATURE_SELECTION: "features",
    APPROVAL.flow: "approval",
    INSIGHTS.flow: "insights",
    AUTOHELPER.flow: "autohelper",
    CROWD_LOOP.flow: "crowd_results",
}
