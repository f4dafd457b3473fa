"""GET /prompts: the analysis prompts with their input and output schemas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from api.deps import read_access
from api.errors import error_responses
from lib.ai.prompts import PromptRegistry

router = APIRouter(tags=["ai"], dependencies=[Depends(read_access)])


class PromptInfo(BaseModel):
    """One analysis prompt."""

    name: str
    version: str
    description: str
    min_tickers: int
    max_tickers: int
    template_hash: str = Field(description="digest of the template's wording (part of the cache key)")
    input_schema: dict[str, Any] = Field(description="JSON schema of the variables built from stored data")
    output_schema: dict[str, Any] = Field(description="JSON schema of the structured result")


class PromptList(BaseModel):
    """Every registered prompt, and the modules that were skipped."""

    prompts: list[PromptInfo]
    skipped: list[dict[str, str]]


def get_prompts(request: Request) -> PromptRegistry:
    """The prompts found in prompts/ when the app was created."""
    return request.app.state.prompts


@router.get("/prompts", response_model=PromptList, responses=error_responses(401))
def list_prompts(prompts: Annotated[PromptRegistry, Depends(get_prompts)]) -> PromptList:
    """The prompts POST /ai/analysis can use."""
    return PromptList(
        prompts=[
            PromptInfo(
                name=p.name, version=p.version, description=p.description, min_tickers=p.min_tickers,
                max_tickers=p.max_tickers, template_hash=p.template_hash,
                input_schema=p.input_model.model_json_schema(), output_schema=p.output_schema,
            )
            for p in prompts
        ],
        skipped=[{"module": m, "error": e} for m, e in prompts.errors],
    )
