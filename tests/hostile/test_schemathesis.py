"""schemathesis against the service's OpenAPI schema, on SQLite and on PostgreSQL (CI sets
EQUILEARN_TEST_POSTGRES_URL): no undocumented 5xx, and every response matches its declared status codes, content
type and schema.

Two phases per backend, each bounded twice over (examples per operation or scenarios, and a time budget that
stops generating calls; both tests together stay well under a minute per backend on a busy two-core machine):

- per operation: every operation with valid (positive) inputs, then with schema-breaking (negative) inputs,
  which must be refused with a 4xx;
- stateful: scenarios that chain operations along links, so the reading routes also get ids that exist
  (the student of a stored event, the id of a recorded audit, the roster just written). schemathesis infers
  some links (audit ids); `LINKS` adds those it cannot (ids inside a request or a list).

Each test prints how many calls it made and how long it took (`pytest -s` shows them).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, assume, given, settings  # noqa: E402
from hypothesis.errors import Flaky, Unsatisfiable, UnsatisfiedAssumption  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.config import SchemathesisConfig  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    ensure_resource_availability,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from engine.runtime import Runtime  # noqa: E402
from tests.service.conftest import SCOPES, any_backend_runtime, h  # noqa: E402, F401 - any_backend_runtime is a fixture

# EQUILEARN_TEST_SCHEMATHESIS_SCALE=10 multiplies the examples, scenarios and budgets for a deeper run by hand.
SCALE = float(os.environ.get("EQUILEARN_TEST_SCHEMATHESIS_SCALE", "1"))
POSITIVE_EXAMPLES = round(15 * SCALE)  # per operation
NEGATIVE_EXAMPLES = round(8 * SCALE)  # per operation that has an input to break
SCENARIOS = round(30 * SCALE)  # stateful: scenarios of up to STEPS calls
STEPS = 8
BUDGET_SECONDS = {"operations": 35.0 * SCALE, "stateful": 20.0 * SCALE}  # per backend: past it a phase stops calling
SEED_STUDENT, SEED_ITEM = "s1", "add_whole-01"


@schemathesis.check
def no_unexpected_server_error(ctx, response, case):  # noqa: ANN001, ANN201 - schemathesis' check signature
    """Any 5xx fails, except the documented 503 ("not ready": a FAILED audit of the served model set, which
    this run may record itself via POST /v1/audits), whose body must then say why."""
    if response.status_code >= 500:
        body = response.json() if response.status_code == 503 else None
        documented = isinstance(body, dict) and (body.get("type") == "unavailable" or body.get("ready") is False)
        if not documented:
            raise AssertionError(f"server error {response.status_code} on {case.method} {case.formatted_path}: "
                                 f"{response.text[:300]}")


CHECKS = [no_unexpected_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]

# Links schemathesis cannot infer: (source path, method, status, target path, method, target parameters).
LINKS = [
    ("/v1/events", "post", "200", "/v1/students/{student_id}/mastery", "get",
     {"student_id": "$response.body#/students_updated/0"}),
    ("/v1/events", "post", "200", "/v1/students/{student_id}/recommendations", "get",
     {"student_id": "$response.body#/students_updated/0"}),
    ("/v1/roster", "post", "200", "/v1/roster", "get", {}),
    ("/v1/catalog", "put", "200", "/v1/catalog/items", "get", {}),
    ("/v1/catalog", "put", "200", "/v1/catalog/resources", "get", {}),
    ("/v1/audits", "post", "201", "/v1/audits/{audit_id}", "get", {"audit_id": "$response.body#/id"}),
    ("/v1/models/reload", "post", "200", "/v1/models", "get", {}),
]


def for_testing(raw: dict[str, Any], item_ids: list[str], resource_ids: list[str]) -> dict[str, Any]:
    """The OpenAPI document with `LINKS` added to their source responses (by operationRef), and an event's
    `item_id` (and optional `resource_id`) drawn from the served catalog's (as the descriptions say they must be:
    random text would only ever reach the 422 for an unknown id, never the ingest path or the student routes behind it)."""
    event = raw["components"]["schemas"]["EventIn"]["properties"]
    event["item_id"]["enum"] = item_ids
    text = next(branch for branch in event["resource_id"]["anyOf"] if branch.get("type") == "string")
    text["enum"] = resource_ids
    for source, method, status, target, target_method, parameters in LINKS:
        response = raw["paths"][source][method]["responses"][status]
        ref = "#/paths/" + target.replace("~", "~0").replace("/", "~1") + "/" + target_method
        name = target_method.upper() + target.replace("/", "_").replace("{", "").replace("}", "")
        response.setdefault("links", {})[name] = {"operationRef": ref, "parameters": parameters}
    return raw


@dataclass
class Tally:
    """Calls made per phase (the time budget may stop a phase early; the counts say how far it got)."""

    backend: str
    calls: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)
    linked: Counter[str] = field(default_factory=Counter)  # stateful calls whose input came over a link
    scenarios: int = 0

    def report(self) -> str:
        phases = ", ".join(f"{phase} {n} calls in {self.seconds.get(phase, 0.0):.1f} s" for phase, n in self.calls.items())
        links = (f"; {self.scenarios} scenarios, {sum(self.linked.values())} calls over links "
                 f"({', '.join(f'{label}: {n}' for label, n in self.linked.most_common())})" if self.scenarios else "")
        return f"schemathesis[{self.backend}]: {phases}{links}"


@dataclass
class Served:
    schema: Any
    key: str
    tally: Tally


@pytest.fixture(autouse=True)
def _serve_unaudited(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test set (`write_model_set` of tests/service/conftest.py) has no PASS in the service's audit table:
    serve it flagged as unaudited (autouse, so it is set before `any_backend_runtime` opens the runtime)."""
    monkeypatch.setenv("EQUILEARN_ALLOW_UNAUDITED", "true")


@pytest.fixture
def served(any_backend_runtime: Runtime, request: pytest.FixtureRequest) -> Iterator[Served]:  # noqa: F811
    """The app on the backend, an all-scopes key, a known student (so the student routes reach their success
    paths too) and the schema with its links."""
    from fastapi.testclient import TestClient

    from service.app import create_app

    runtime = any_backend_runtime
    key = runtime.store.create_api_key(",".join(SCOPES))[0]
    app = create_app(runtime)
    with TestClient(app) as client:
        seeded = client.post("/v1/events", headers=h(key), json={"events": [
            {"event_id": "seed", "student_id": SEED_STUDENT, "item_id": SEED_ITEM, "correct": 1}]})
        assert seeded.status_code == 200, seeded.text
        raw = client.get("/openapi.json").json()
        items = [row["item_id"] for row in client.get("/v1/catalog/items", headers=h(key)).json()["rows"]]
        resources = [row["resource_id"] for row in client.get("/v1/catalog/resources", headers=h(key)).json()["rows"]]
    # The key is ours to send (every call carries an all-scopes key; tests/hostile/test_service_hostile.py covers
    # keys and scopes), and unknown query parameters are ignored, as HTTP APIs do: neither is a negative case here.
    config = SchemathesisConfig.from_dict({"generation": {"with-security-parameters": False,
                                                          "allow-extra-parameters": False}})
    schema = schemathesis.openapi.from_dict(for_testing(raw, items, resources), config=config)
    schema.app = app
    tally = Tally(request.node.callspec.params["any_backend_runtime"])
    yield Served(schema, key, tally)
    print(tally.report())


def _settings(max_examples: int) -> settings:
    return settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck),
                    derandomize=True, database=None, print_blob=True)


def _run_operation(operation: Any, mode: GenerationMode, examples: int, checks: list, key: str,
                   count: Callable[[], None], over_budget: Callable[[], bool]) -> None:
    """`examples` generated cases of one operation in one generation mode, each sent and checked."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @_settings(examples)
    def check(case: Any) -> None:
        assume(not over_budget())
        case.call_and_validate(headers={**(case.headers or {}), **h(key)}, checks=checks)
        count()

    try:
        check()
    except Unsatisfiable:
        if mode is not GenerationMode.NEGATIVE:  # an operation without parameters or body has no input to break
            raise


def test_operations_conform(served: Served) -> None:
    """Every operation: valid inputs answered as documented; schema-breaking inputs refused with a 4xx."""
    key, tally = served.key, served.tally
    operations = [result.ok() for result in served.schema.get_all_operations()]
    assert len(operations) >= 16
    start = time.monotonic()

    def over_budget() -> bool:
        return time.monotonic() - start > BUDGET_SECONDS["operations"]

    for mode, examples, extra in ((GenerationMode.POSITIVE, POSITIVE_EXAMPLES, []),
                                  (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES, [negative_data_rejection])):
        phase, phase_start = mode.value, time.monotonic()
        tally.calls[phase] = 0

        def count(phase: str = phase) -> None:
            tally.calls[phase] += 1

        for operation in operations:
            if over_budget():
                break
            _run_operation(operation, mode, examples, [*CHECKS, *extra], key, count, over_budget)
        tally.seconds[phase] = time.monotonic() - phase_start
    # the budget guards against a very slow machine; it is not how a normal run ends
    assert tally.calls["positive"] >= len(operations) * 3, tally.report()


def test_stateful_links_conform(served: Served) -> None:
    """Scenarios along the links: the same checks on every call, and a resource a 201 points at must be readable.

    The server keeps its state from one scenario to the next, so Hypothesis may see a replayed scenario take
    another path (`Flaky`). As schemathesis' own runner does, that ends a run (there is no shrinking), and the
    next run starts from another order of first calls, until SCENARIOS scenarios ran or the budget is spent.
    A failed check (or an exception from the app) is recorded when it happens, so no restart can hide it."""
    key, tally = served.key, served.tally
    workflow = served.schema.as_state_machine()
    transitions = [name for name in dir(workflow) if "__" in name and not name.startswith(("_", "RANDOM"))]
    assert any("students" in name for name in transitions) and any("audits" in name for name in transitions), transitions
    start = time.monotonic()
    budget = BUDGET_SECONDS["stateful"]
    tally.calls["stateful"] = 0
    failures: list[tuple[Any, str]] = []  # (case, what failed)
    scenario_calls: list[int] = []

    class Workflow(workflow):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            scenario_calls.append(0)

        def step(self, input):  # noqa: A002, ANN001, ANN202 - schemathesis' signature
            if input.transition is not None and input.is_applied:
                tally.linked[input.case.operation.label] += 1
            try:
                return super().step(input)
            except UnsatisfiedAssumption:  # the time budget (before_call): not a failure
                raise
            except Exception as exc:  # e.g. an exception the app raised through the ASGI transport
                if not failures or failures[-1][0] is not input.case:
                    failures.append((input.case, f"{input.case.method} {input.case.formatted_path}: {exc!r}"))
                raise

        def get_call_kwargs(self, case):  # noqa: ANN001, ANN202
            return {"headers": {**(case.headers or {}), **h(key)}}

        def before_call(self, case) -> None:  # noqa: ANN001
            assume(time.monotonic() - start <= budget)

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:  # noqa: ANN001
            tally.calls["stateful"] += 1
            scenario_calls[-1] += 1
            try:
                case.validate_response(response, checks=[*CHECKS, ensure_resource_availability],
                                       headers=kwargs.get("headers"), recorder=self.recorder)
            except Exception as exc:
                failures.append((case, f"{case.method} {case.formatted_path} -> {response.status_code}: {exc}"))
                raise

    run_settings = settings(_settings(SCENARIOS), stateful_step_count=STEPS, phases=[Phase.generate])
    for attempt in range(10):
        Workflow.rule_order_seed = attempt
        try:
            Workflow.run(settings=run_settings)
        except Flaky:
            pass
        finally:
            tally.scenarios = sum(1 for n in scenario_calls if n)
        assert not failures, "\n".join(text for _, text in failures)
        if tally.scenarios >= SCENARIOS or time.monotonic() - start > budget:
            break
    tally.seconds["stateful"] = time.monotonic() - start
    assert tally.scenarios >= SCENARIOS, tally.report()
    assert "GET /v1/audits/{audit_id}" in tally.linked and any("/v1/students/" in label for label in tally.linked), \
        tally.report()


# ---- what schemathesis found (negative data accepted), fixed in service/schemas.py ---------------------------------
def _event(i: int, **extra: Any) -> dict[str, Any]:
    return {"event_id": f"found-{i}", "student_id": f"found-{i}", "item_id": SEED_ITEM, "correct": 1, **extra}


def _statement(i: int) -> dict[str, Any]:
    return {"id": f"5f0c8a44-0000-4000-8000-{i:012d}", "actor": {"account": {"homePage": "https://lms.example",
                                                                              "name": f"found-x{i}"}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
            "object": {"id": f"https://lms.example/items/{SEED_ITEM}"}, "result": {"success": True}}


@pytest.mark.parametrize("timestamp", [14.0, 1700000000, "1700000000", True])
def test_a_timestamp_that_is_a_number_is_refused_not_read_as_unix_seconds(api, timestamp) -> None:  # noqa: ANN001
    """The schema says ISO 8601 text (`format: date-time`); pydantic alone read 14.0 as 1970-01-01T00:00:14Z."""
    response = api.post("/v1/events", "ingest", json={"events": [_event(1, timestamp=timestamp)]})
    assert response.status_code == 422 and "ISO 8601" in response.text, response.text
    assert api.get("/v1/students/found-1/mastery", "recommend").status_code == 404  # nothing stored
    ok = api.post("/v1/events", "ingest", json={"events": [_event(2, timestamp="2024-05-01T12:00:00Z")]})
    assert ok.status_code == 200, ok.text


def test_the_events_schema_states_exactly_one_of_events_or_statements(api) -> None:  # noqa: ANN001
    """The OpenAPI document now says what the server enforces (one of the two lists; the other absent or null):
    every body below is valid by the schema exactly when the server accepts it."""
    import jsonschema_rs

    raw = api.client.get("/openapi.json").json()
    validator = jsonschema_rs.validator_for({"$ref": "#/components/schemas/EventsIn", "components": raw["components"]})
    bodies = [({"events": [_event(3)]}, True), ({"statements": [_statement(4)]}, True),
              ({"events": [_event(5)], "statements": None}, True), ({"events": None, "statements": [_statement(6)]}, True),
              ({"events": [_event(7)], "statements": [_statement(8)]}, False), ({}, False), ({"events": None}, False),
              ({"events": None, "statements": None}, False)]
    for body, valid in bodies:
        assert validator.is_valid(body) is valid, body
        status = api.post("/v1/events", "ingest", json=body).status_code
        assert (status == 200) is valid, (body, status)
