"""Fuzzing the input parsers (issue 10): arbitrary text never escapes as anything but the documented error
types (TargetError / ConfigError for targets, ClaimsError for tokens, nothing at all for AADSTS scanning), and
what is accepted really has the documented shape."""

from __future__ import annotations

import re
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from preflight.aadsts import parse_aadsts_codes
from preflight.claims import ClaimsError, decode_claims
from preflight.errors import ConfigError, TargetError
from preflight.target import build_target

STRICT_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ENDPOINT = "https://contoso.openai.azure.com/"  # given, so no .azureml/config.json is searched for
FAST = settings(max_examples=150, deadline=None)

guids = st.uuids().map(str)
segments = st.one_of(
    st.text(max_size=12), st.text(string.ascii_letters + string.digits + "-._", min_size=1, max_size=12), guids
)
# Mostly-plausible resource ids with one part off: hypothesis explores the parser's edges, not just noise.
resource_ids = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda sub, rg, ns, typ, name, tail: (
            f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{typ}/{name}{tail}"
        ),
        st.one_of(guids, segments),
        segments,
        segments,
        segments,
        segments,
        st.sampled_from(["", "/", "//", "\n", " ", "/sub/child", "?x=1"]),
    ),
)
subscriptions = st.one_of(
    st.text(max_size=40),
    guids,
    guids.map(lambda g: g + "\n"),
    guids.map(lambda g: " " + g),
    guids.map(lambda g: g.replace("-", "")),
    guids.map(lambda g: "{" + g + "}"),
)


@FAST
@given(resource_id=resource_ids)
def test_resource_id_parsing_raises_only_target_errors(resource_id: str) -> None:
    try:
        target = build_target({}, resource_id=resource_id, endpoint=ENDPOINT)
    except (TargetError, ConfigError) as exc:
        assert "\n" not in exc.message.replace(repr(resource_id), "")  # one line (the id itself is quoted)
        return
    if resource_id.strip("/"):
        assert target.resource_id is not None and target.resource_id.startswith("/subscriptions/")
        assert STRICT_GUID.fullmatch(target.resource_id.split("/")[2]), target.resource_id
        assert not any(ord(ch) < 0x20 for ch in target.resource_id), repr(target.resource_id)  # URL-safe


@FAST
@given(subscription=subscriptions)
def test_subscription_parsing_accepts_only_guids(subscription: str) -> None:
    try:
        target = build_target({}, subscription=subscription, endpoint=ENDPOINT)
    except (TargetError, ConfigError):
        return
    if subscription:
        assert target.subscription_id is not None and STRICT_GUID.fullmatch(target.subscription_id), subscription


@FAST
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.lists(
            st.one_of(
                st.text(max_size=10), st.from_regex(r"AADSTS\d{1,9}", fullmatch=True), st.integers(-10, 10**12).map(str)
            ),
            max_size=8,
        ).map(" ".join),
    )
)
def test_aadsts_scanning_never_raises(text: str) -> None:
    codes = parse_aadsts_codes(text)
    assert all(isinstance(c, int) and c >= 0 for c in codes)
    assert len(codes) == len(set(codes))


@FAST
@given(
    token=st.one_of(
        st.text(max_size=200),
        st.lists(st.text(string.ascii_letters + string.digits + "-_=", max_size=40), min_size=1, max_size=6).map(
            ".".join
        ),
        st.text(max_size=60).map(lambda t: "Bearer " + t),
    )
)
def test_decode_claims_raises_only_claims_error(token: str) -> None:
    try:
        claims = decode_claims(token)
    except ClaimsError as exc:
        # The message says what is wrong, never what the string was (tokens are secrets).
        assert len(token) < 8 or token.strip() not in exc.message
        return
    assert isinstance(claims, dict)
