"""Checks a third party could ship: one that passes, one that crashes, one that tries to leak a secret."""

from __future__ import annotations

from preflight.check import Check
from preflight.model import CheckMeta, Severity


class Hello(Check):
    meta = CheckMeta(id="example.hello", title="Example plug-in check", severity=Severity.LOW)

    def run(self, ctx):
        yield self.passed("hello from a plug-in", evidence={"tenant": ctx.target.tenant_id})


class Crash(Check):
    meta = CheckMeta(id="example.crash", title="Example crashing check", severity=Severity.LOW)

    def run(self, ctx):
        raise ZeroDivisionError("plug-in bug")


class Leaky(Check):
    """Careless on purpose: echoes the secret, which the engine's redaction must remove."""

    meta = CheckMeta(id="example.leaky", title="Example careless check", severity=Severity.LOW)

    def run(self, ctx):
        secret = ctx.target.environ.get("AZURE_CLIENT_SECRET", "")
        yield self.warned(
            f"the secret is {secret}",
            evidence={"echo": secret, "nested": [{"s": secret}]},
            commands=[f"az login --service-principal -p {secret}"],
        )
