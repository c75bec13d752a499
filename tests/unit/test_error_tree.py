"""One error tree: every AI error is a FlowPilotError, and one mapping turns any of them into the problem
a technician sees, over plain HTTP and in an SSE ``error`` event alike."""

from __future__ import annotations

import pytest
from flowpilot_server.problems import problem_body
from sqlalchemy.exc import DBAPIError, OperationalError

from flowpilot_core.ai import errors as ai_errors
from flowpilot_core.ai.errors import (
    NO_RETRY_HINT,
    RETRY_HINT,
    AIAuthenticationFailed,
    AIBadResponse,
    AIError,
    AIOverloaded,
    AIRateLimited,
    AIRequestRejected,
    AIServerError,
    AITimedOut,
    AIUnavailable,
)
from flowpilot_core.errors import DatabaseBusy, DatabaseUnavailable, FlowPilotError, NotFound, database_unavailable


@pytest.mark.parametrize(
    ("error", "status", "slug", "retryable"),
    [
        (AIRateLimited(retry_after=2.5), 429, "ai-rate-limited", True),
        (AIOverloaded(), 503, "ai-overloaded", True),
        (AIUnavailable(), 503, "ai-unavailable", True),
        (AIServerError(), 503, "ai-server-error", True),
        (AITimedOut(), 503, "ai-timed-out", True),
        (AIBadResponse(), 503, "ai-bad-response", True),
        (AIRequestRejected(), 503, "ai-request-rejected", False),
        (AIAuthenticationFailed(), 503, "ai-authentication-failed", False),
        (AIError(detail="KeyError: 'oops'"), 503, "ai-error", False),
    ],
)
def test_ai_errors_map_by_class(error: AIError, status: int, slug: str, retryable: bool) -> None:
    assert isinstance(error, FlowPilotError)
    body = problem_body(error)
    assert body["status"] == status and body["retryable"] is retryable
    assert body["type"] == f"https://flowpilot.dev/problems/{slug}"
    assert body["detail"] == f"{error.message} {RETRY_HINT if retryable else NO_RETRY_HINT}"
    assert "KeyError" not in body["detail"], "the provider's words stay in the logs"
    if isinstance(error, AIRateLimited):
        assert body["retry_after"] == 3, "whole seconds, rounded up"
        assert "about 2.5 seconds" in body["detail"]
    else:
        assert "retry_after" not in body


def test_every_ai_error_class_says_a_sentence_and_has_its_own_code() -> None:
    classes = [c for c in vars(ai_errors).values() if isinstance(c, type) and issubclass(c, AIError)]
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes))
    for cls in classes:
        assert cls.default_message.endswith(".") and "{" not in cls.default_message
    assert "network" not in AIServerError.default_message, "a 500 means the service was reached"
    assert "network" in AIUnavailable.default_message


def test_domain_errors_keep_their_shape() -> None:
    body = problem_body(NotFound("session not found"))
    assert body["status"] == 404 and body["detail"] == "session not found"
    assert body["type"] == "https://flowpilot.dev/problems/not-found"
    assert body["retryable"] is False, "an SSE consumer always learns whether to resend"


def test_a_lost_database_is_a_retryable_503() -> None:
    refused = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
    dropped = DBAPIError("INSERT ...", {}, OSError("connection was closed"), connection_invalidated=True)
    for exc in (refused, dropped):
        assert isinstance(database_unavailable(exc), DatabaseUnavailable)
        body = problem_body(exc)
        assert (body["status"], body["retryable"]) == (503, True)
        assert body["type"] == "https://flowpilot.dev/problems/database-unavailable"
    # A query that is wrong is not an outage: it is a bug, reported as one (500, with a log reference).
    broken_sql = OperationalError("SELECT nope", {}, Exception("column nope does not exist"))
    assert database_unavailable(broken_sql) is None
    body = problem_body(broken_sql)
    assert body["status"] == 500 and "Reference:" in body["detail"] and body["retryable"] is False
    # Only explicit causes count, not the exception an unrelated bug was raised while handling.
    try:
        try:
            raise refused
        except ConnectionError:
            raise KeyError("bug in an except block") from None
    except KeyError as bug:
        assert database_unavailable(bug) is None
    wrapped = RuntimeError("while saving the reply")
    wrapped.__cause__ = refused
    assert database_unavailable(wrapped) is not None


def test_a_pool_that_stayed_busy_is_a_503_that_says_busy_and_retry_in_a_second() -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    busy = PoolTimeout("QueuePool limit of size 1 overflow 0 reached, connection timed out, timeout 0.50")
    wrapped = RuntimeError("while reading the session")
    wrapped.__cause__ = busy
    for exc in (busy, wrapped):
        assert isinstance(database_unavailable(exc), DatabaseBusy)
        body = problem_body(exc)
        assert (body["status"], body["retryable"], body["retry_after"]) == (503, True, 1)
        assert body["type"] == "https://flowpilot.dev/problems/database-busy"
    assert problem_body(ConnectionRefusedError(111, "refused"))["retry_after"] == 5  # an outage: later
