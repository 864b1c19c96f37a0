"""JSON answers written by pydantic in one pass, for the routes that are read the most.

A route that returns a model makes FastAPI validate it again against ``response_model`` (in
a second thread-pool hop for a plain ``def`` route) and then serialize it. ``model_json``
validates the store's records once, as the route's model, and hands uvicorn the bytes; the
route keeps ``response_model=`` so /openapi.json still describes the answer.
"""

from __future__ import annotations

from pydantic import BaseModel
from starlette.responses import Response


class ModelJSONResponse(Response):
    media_type = "application/json"


def model_json(model: type[BaseModel], value: object, *, status_code: int = 200) -> Response:
    """``value`` (a model, a dataclass or any object with the fields) as ``model``'s JSON."""
    checked = model.model_validate(value, from_attributes=True)
    return ModelJSONResponse(
        model.__pydantic_serializer__.to_json(checked), status_code=status_code
    )
