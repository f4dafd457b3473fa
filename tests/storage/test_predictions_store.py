"""storage.predictions: the readers that count and score leave the bulky prompt input and context block out."""

from __future__ import annotations

import datetime as dt

from lib.storage.predictions import prediction_id


def test_light_reads_leave_out_the_input_and_context_and_keep_what_scoring_reads(storage):
    day = dt.date(2024, 12, 20)
    doc = {"_id": prediction_id(day, "005930", "openai:a", "predict_outlook", "1"), "day": day.isoformat(),
           "ticker": "005930", "model_ref": "openai:a", "prompt": "predict_outlook", "prompt_version": "1",
           "status": "ok", "late": False, "memorised": False, "horizons": {"5": {"probability": 0.6}},
           "input": {"stock": "x" * 9000}, "context": {"filings": []}}
    storage.predictions.save_prediction(doc)
    light = {k: v for k, v in doc.items() if k not in ("input", "context")}
    assert storage.predictions.find_predictions(light=True) == [light]
    assert storage.predictions.awaiting_outcome(5) == [light]
    assert storage.predictions.find_predictions() == [doc]  # the batch itself reads them back whole
