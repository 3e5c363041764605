"""Every `RunInput` a flow pauses for, and a helper that keeps field constraints when prefilling."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

import pydantic
from prefect.input import RunInput
from pydantic import Field
from pydantic.fields import FieldInfo

from pipelines.core.users import MAX_USERS

InputT = TypeVar("InputT", bound=RunInput)


class AuditedInput(RunInput):
    """Base of every pause input: who answered is recorded in the run's audit trail."""

    resumed_by: str | None = Field(
        default=None,
        title="Your name",
        description="Recorded in the run's audit trail. The dashboard fills it from the analyst name.",
        max_length=200,
    )


class UserInput(AuditedInput):
    """How many users the ingestion flow should fetch."""

    number_of_users: int = Field(
        default=2,
        ge=1,
        le=MAX_USERS,
        title="Number of users",
        description=f"How many user records to fetch (1 to {MAX_USERS:,}).",
    )


def with_defaults(input_type: type[InputT], *, description: str, **defaults: Any) -> type[InputT]:
    """Return a subclass of `input_type` whose fields default to `defaults`, keeping their constraints.

    Prefect's `RunInput.with_initial_data` rebuilds each field from its bare annotation, which drops the
    bounds, titles and descriptions from the schema the form is rendered from; this keeps them.
    """
    fields: dict[str, Any] = {}
    for name, value in defaults.items():
        original = input_type.model_fields.get(name)
        if original is None:
            raise ValueError(f"{input_type.__name__} has no field {name!r}.")
        fields[name] = (original.annotation, FieldInfo.merge_field_infos(original, default=value))
    model = pydantic.create_model(input_type.__name__, __base__=input_type, **fields)
    model._description = description
    return model


def features_to_drop_input(columns: list[str], default: list[str], description: str) -> type[AuditedInput]:
    """A pause input whose `features_to_drop` may only name the given columns, and not all of them.

    The choices and the limit live in the JSON schema itself, so every form built from it (the dashboard's,
    Prefect's own UI) offers a multiselect, and Prefect's server refuses an unknown column on resume.
    """
    choice = Literal[tuple(columns)]  # type: ignore[valid-type]
    model = pydantic.create_model(
        "FeaturesToDrop",
        __base__=AuditedInput,
        features_to_drop=(
            list[choice],  # type: ignore[valid-type]
            Field(
                default=list(default),
                title="Features to drop",
                description="Columns to remove from every user record. At least one column must stay.",
                max_length=len(columns) - 1,
                json_schema_extra={"uniqueItems": True},
            ),
        ),
    )
    model._description = description
    return model


class ApprovalInput(AuditedInput):
    """Whether to publish the cleaned users as the `name-table` artifact."""

    # No default: a decision that ends the run is never taken by submitting a form untouched. `decision`
    # names each answer, so every form drawn from the schema offers the two as an explicit choice.
    create_artifact: bool = Field(
        title="Decision",
        description="true publishes the table as `name-table`; false rejects it and the run ends as Rejected.",
        json_schema_extra={"decision": {"true": "Approve and publish", "false": "Reject"}},
    )


class InsightInput(AuditedInput):
    """What the analyst wants to know about the users."""

    input_instructions: str = Field(
        default="Group by location and count the number of users in each location.",
        title="Instruction",
        description="What should the model find in the users? Group-bys, counts and top-N also get a table.",
        min_length=3,
        max_length=2000,
    )


class ThresholdInput(AuditedInput):
    """The confidence above which the model's labels are accepted without people."""

    threshold: float = Field(
        default=0.95,
        ge=0.0,
        le=1.0,
        title="Threshold",
        description="Items with confidence at or above it are accepted from the model; the rest go to people.",
    )


class CrowdCollectInput(AuditedInput):
    """Collect the crowd's answers now, complete or not, or keep waiting."""

    collect_now: bool = Field(
        default=True,
        title="Collect the answers",
        description="Ticked: close the batch and aggregate the answers given so far; unanswered items keep no "
                    "crowd label. Unticked: keep the batch open and wait; the run asks again.",
    )
