"""Cron, 23:40 KST Mon-Fri and 07:40 KST Tue-Sat: ask each model of AI_PREDICT_MODELS for a scored prediction
(predict_outlook) of the latest analysed day's stocks, each stored at once, all before the next session opens.
A run past that open asks nothing and says so; blank AI_PREDICT_MODELS: one line, exit 0."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable

from lib.ai.llm import build_chat_model
from lib.ai.predict import LlmFactory, predict_latest
from lib.cli import run_script
from lib.config import Settings, load_settings
from lib.errors import EXIT_OK, PipelineError
from lib.log import get_logger, setup_logging

DATASET = "krx.bars"  # the screened dataset whose analysed days it predicts (lib/markets)
JOB = "ai_predict"


def main(argv: list[str] | None = None, settings: Settings | None = None,
         factory: LlmFactory = build_chat_model, clock: Callable[[], dt.datetime] | None = None) -> int:
    """Parse args, load settings, predict the latest analysed day; returns the exit code."""
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    try:
        settings = settings or load_settings()
    except PipelineError:
        pass  # run_script says what to fix, in its one line
    else:
        if not settings.ai_predict_models:
            setup_logging(JOB, settings.log_level, settings.log_warnings_file)
            get_logger().info("ai_predict is off: AI_PREDICT_MODELS is blank (provider:model pairs turn it on)")
            return EXIT_OK
    # Only the dataset's calendar is needed (build=False): no market source or credential.
    return run_script(DATASET, JOB, None, settings,
                      lambda dataset: lambda ctx: predict_latest(ctx, factory, dataset.calendar(ctx.settings)),
                      clock=clock or (lambda: dt.datetime.now(dt.UTC)), lock_name=JOB, build=False)


if __name__ == "__main__":
    sys.exit(main())
