"""Fuzzing the control API from its own OpenAPI document (schemathesis + hypothesis).

Valid and invalid requests for every operation, sent to a running appliance over its
TCP listener; every answer must be a JSON object (an error body from 400 up), never a 5xx.
The test suite runs a bounded pass; `python scripts/fuzz_api.py` a long one.
"""
from __future__ import annotations

from collections import Counter

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from appliance.api.app import openapi_document


def fuzz(base_url: str, token: str, examples: int, seed: int | None = None) -> Counter:
    """Runs `examples` valid and `examples` invalid cases per operation; returns status counts.
    AssertionError names the first case answered with a 5xx or without a JSON body."""
    schema = schemathesis.openapi.from_dict(openapi_document())
    statuses: Counter = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=examples, deadline=None, derandomize=seed is not None,
                      database=None, suppress_health_check=list(HealthCheck))
            def check(case) -> None:
                if case.path == "/v1/capture" and isinstance(case.body, dict):
                    case.body = {**case.body, "seconds": 0.2}  # (a stream, read whole: bounded)
                response = case.call(base_url=base_url, timeout=30,
                                     headers={"Authorization": f"Bearer {token}"})
                statuses[response.status_code] += 1
                where = f"{case.method} {case.formatted_path} query={case.query} body={case.body!r:.200}"
                if case.path == "/v1/capture" and response.status_code == 200:
                    # A capture ran: pcapng, beginning with its section header.
                    assert response.content[:4] == b"\n\r\r\n", where
                    return
                assert response.status_code < 500, f"{response.status_code} for {where}: {response.text[:300]}"
                body = response.json()
                assert isinstance(body, (dict, list)), where
                if response.status_code >= 400:
                    assert set(body["error"]) == {"type", "message"}, where
            try:
                check()
            except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                pass
    return statuses
