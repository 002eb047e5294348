"""The ping endpoint, for real, in-process, with the function URL's event shape, against moto DynamoDB and
Secrets Manager: who may ping, what is stored, and that a refused ping writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.heartbeat import TABLE, TOKEN, aws, check, item, ping, request  # noqa: F401 (fixture)
from vigil.heartbeat import endpoint, store

AT = datetime(2026, 11, 27, 2, 43, 5, tzinfo=UTC)


@pytest.fixture
def registered(aws):  # noqa: F811
    """The nightly-export check as its checker's first run leaves it: registered, no pings yet."""
    c = check()
    store.register(aws, TABLE, c.id, c.token_secret_name, AT - timedelta(days=1))
    return aws


def test_a_wrong_token_gets_403_and_writes_nothing(registered):
    before = item(registered, "nightly-export")

    answer = ping(registered, "/ping/nightly-export/137", AT, token="not-" + TOKEN, body=b"boom\n")

    assert answer.status == 403
    assert item(registered, "nightly-export") == before
    assert set(before) == {"check", "token_secret", "watched_since", "expires"}  # still no ping at all


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": TOKEN}, {"authorization": "Basic " + TOKEN}, {"authorization": "Bearer "}],
)
def test_a_missing_or_malformed_token_gets_403_and_writes_nothing(registered, headers):
    before = item(registered, "nightly-export")
    event = request("/ping/nightly-export", token=None)
    event["headers"].update(headers)

    answer = endpoint.handle(event, AT, registered, TABLE, lambda name: pytest.fail("no token, no secret read"))

    assert answer.status == 403
    assert item(registered, "nightly-export") == before


def test_an_unknown_check_gets_404_and_no_item_is_created(registered):
    answer = ping(registered, "/ping/no-such-job", AT)

    assert answer.status == 404
    assert item(registered, "no-such-job") is None


def test_a_check_its_checker_has_not_registered_yet_is_unknown(aws):  # noqa: F811
    assert ping(aws, "/ping/nightly-export", AT).status == 404
    assert item(aws, "nightly-export") is None


def test_an_expired_registration_is_unknown(registered):
    later = AT + store.RETENTION + timedelta(days=2)

    assert ping(registered, "/ping/nightly-export", later).status == 404


@pytest.mark.parametrize(
    ("path", "kind", "exit_code"),
    [
        ("/ping/nightly-export", "success", None),
        ("/ping/nightly-export/", "success", None),
        ("/ping/nightly-export/0", "success", 0),
        ("/ping/nightly-export/start", "start", None),
        ("/ping/nightly-export/fail", "fail", None),
        ("/ping/nightly-export/137", "fail", 137),
        ("/ping/nightly-export/255", "fail", 255),
    ],
)
def test_each_path_stores_its_ping(registered, path, kind, exit_code):
    assert ping(registered, path, AT).status == 200

    stored = store.pings(store._plain(item(registered, "nightly-export")))
    got = getattr(stored, kind)
    assert got is not None and (got.at, got.exit_code) == (AT, exit_code)
    assert [k for k in store.KINDS if getattr(stored, k) is not None] == [kind]


@pytest.mark.parametrize(
    "path",
    ["/ping/nightly-export/256", "/ping/nightly-export/-1", "/ping/nightly-export/done", "/ping/Bad_Id", "/", "/ping"],
)
def test_other_paths_get_404(registered, path):
    before = item(registered, "nightly-export")
    assert ping(registered, path, AT).status == 404
    assert item(registered, "nightly-export") == before


def test_only_get_and_post(registered):
    assert ping(registered, "/ping/nightly-export", AT, method="PUT").status == 405
    assert ping(registered, "/ping/nightly-export", AT, method="GET").status == 200


def test_the_last_log_lines_are_kept_clean_and_bounded(registered):
    output = b"".join(f"line {i}\n".encode() for i in range(40))
    output += b"\x1b[31mERROR\x1b[0m out of memory\x07\r\n\x00\x1b]0;title\x07killed \xe2\x80\xae reversed\n\n  \n"

    assert ping(registered, "/ping/nightly-export/137", AT, body=output).status == 200

    fail = store.pings(store._plain(item(registered, "nightly-export"))).fail
    assert fail is not None
    assert fail.lines == (*(f"line {i}" for i in range(32, 40)), "ERROR out of memory", "killed reversed")


def test_a_huge_line_is_clipped(registered):
    assert ping(registered, "/ping/nightly-export/fail", AT, body=b"x" * 100_000).status == 200

    (line,) = store.pings(store._plain(item(registered, "nightly-export"))).fail.lines
    assert len(line) == 300 and line.endswith("…")


def test_a_text_body_is_read_as_sent(registered):
    event = request("/ping/nightly-export/fail")
    event.update(body="first\nlast words", isBase64Encoded=False)

    assert endpoint.handle(event, AT, registered, TABLE, lambda name: {"token": TOKEN}).status == 200
    assert store.pings(store._plain(item(registered, "nightly-export"))).fail.lines == ("first", "last words")


def test_a_token_secret_without_a_usable_token_is_vigils_error_and_writes_nothing(registered):
    before = item(registered, "nightly-export")

    with pytest.raises(endpoint.EndpointError, match="needs a 'token' string") as raised:
        endpoint.handle(request("/ping/nightly-export"), AT, registered, TABLE, lambda name: {"token": "short"})

    assert "short" not in str(raised.value)
    assert item(registered, "nightly-export") == before


def test_the_handler_answers_in_the_function_url_response_shape(registered, caplog):
    caplog.set_level("INFO")
    event = request("/ping/nightly-export/start", body=b"task arn:aws:ecs:eu-west-1:123456789012:task/abc\n")

    response = endpoint.handler(event)

    assert response == {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "OK\n"}
    start = store.pings(store._plain(item(registered, "nightly-export"))).start
    assert start is not None and start.lines == ("task arn:aws:ecs:eu-west-1:123456789012:task/abc",)
    # The log says who pinged and what came of it, never the token.
    assert "nightly-export start: 200" in caplog.text and TOKEN not in caplog.text


def test_the_token_is_compared_by_digest():
    assert endpoint.same_token(TOKEN, TOKEN)
    assert not endpoint.same_token(TOKEN, TOKEN + "x")
    assert not endpoint.same_token("", TOKEN)
