"""The fake Messages API's faults look, on the wire, like what they stand for."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import pytest

from flowpilot_core.testing import FakeAnthropic

from .support import text

HEADERS = {"authorization": "Bearer test-key", "anthropic-version": "2026-10-21"}


def _body(**overrides: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": [text("The printer is offline again after the update.")]}],
    }
    b.update(overrides)
    return b


def _raw_request(fake: FakeAnthropic, payload: dict[str, Any]) -> socket.socket:
    host, port = fake.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    data = json.dumps(payload).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
    sock.sendall(
        f"POST /v1/messages HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n{head}"
        f"content-length: {len(data)}\r\n\r\n".encode()
        + data
    )
    return sock


def test_a_hang_before_headers_sends_nothing_until_released(fake: FakeAnthropic) -> None:
    hang = fake.queue_hang()
    sock = _raw_request(fake, _body())
    assert hang.reached.wait(5)
    sock.settimeout(0.3)
    with pytest.raises(TimeoutError):
        sock.recv(1)  # not even a status line
    hang.release()
    sock.settimeout(5)
    assert sock.recv(12) == b"HTTP/1.1 200"
    sock.close()
    assert fake.message_requests[-1].fault == "hang before headers"


def test_a_hang_with_seconds_ends_by_itself(fake: FakeAnthropic) -> None:
    fake.queue_hang(seconds=0.3)
    started = time.monotonic()
    response = httpx.post(fake.url + "/v1/messages", json=_body(), headers=HEADERS, timeout=5)
    assert response.status_code == 200 and 0.3 <= time.monotonic() - started < 2


def test_a_mid_stream_hang_comes_after_the_deltas_asked_for(fake: FakeAnthropic) -> None:
    hang = fake.queue_hang(after_deltas=2)
    fake.queue_reply("one two three four")
    with httpx.stream(
        "POST", fake.url + "/v1/messages", json=_body(stream=True), headers=HEADERS, timeout=5
    ) as response:
        lines = response.iter_lines()
        seen: list[str] = []
        while sum(1 for line in seen if '"text_delta"' in line) < 2:
            seen.append(next(lines))
        assert hang.reached.wait(5)
        assert not any("message_stop" in line for line in seen)
        hang.release()
        rest = list(lines)
    assert any("event: message_stop" in line for line in rest), "released, the stream finishes normally"
    assert fake.message_requests[-1].fault == "hang after 2 deltas"


def test_truncated_json_is_cut_with_a_matching_length(fake: FakeAnthropic) -> None:
    fake.queue_malformed("truncated_json")
    response = httpx.post(fake.url + "/v1/messages", json=_body(), headers=HEADERS, timeout=5)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.content.startswith(b'{"id": "msg_')
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_broken_sse_cuts_an_event_mid_json_and_closes(fake: FakeAnthropic) -> None:
    fake.queue_malformed("broken_sse", after_deltas=1)
    response = httpx.post(fake.url + "/v1/messages", json=_body(stream=True), headers=HEADERS, timeout=5)
    events = response.text.strip().split("\n\n")
    assert events[0].startswith("event: message_start")
    *good, broken = events
    assert sum('"text_delta"' in e for e in good) == 1, "one good delta, then the broken event"
    name, data = broken.split("\n")
    assert name == "event: content_block_delta"
    with pytest.raises(ValueError):
        json.loads(data.removeprefix("data: "))
    assert "message_stop" not in response.text


@pytest.mark.parametrize(
    ("status", "error_type", "retry_after"),
    [(500, "api_error", None), (529, "overloaded_error", None), (429, "rate_limit_error", 7)],
)
def test_scripted_errors_have_the_documented_shape(
    fake: FakeAnthropic, status: int, error_type: str, retry_after: float | None
) -> None:
    fake.queue_error(status, error_type, "Scripted", retry_after=retry_after)
    response = httpx.post(fake.url + "/v1/messages", json=_body(stream=True), headers=HEADERS, timeout=5)
    assert response.status_code == status
    assert response.json() == {
        "type": "error",
        "error": {"type": error_type, "message": "Scripted"},
        "request_id": response.headers["request-id"],
    }
    assert response.headers.get("retry-after") == (None if retry_after is None else "7")


def test_an_unknown_malformation_is_refused() -> None:
    with FakeAnthropic() as fake, pytest.raises(ValueError, match=r"^kind: 'gzip-bomb'"):
        fake.queue_malformed("gzip-bomb")


def test_closing_the_fake_ends_a_hang_that_was_never_released() -> None:
    fake = FakeAnthropic().start()
    hang = fake.queue_hang()
    sock = _raw_request(fake, _body())
    assert hang.reached.wait(5)
    started = time.monotonic()
    fake.close()
    sock.close()
    assert time.monotonic() - started < 3
