"""Every `RunInput` a flow pauses for, and a helper that keeps field constraints when prefilling."""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic
from prefect.input import RunInput
from pydantic import Field
from pydantic.fields import FieldInfo

from pipelines.core.users import MAX_USERS

InputT = TypeVar("InputT", bound=RunInput)


class UserInput(RunInput):
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
