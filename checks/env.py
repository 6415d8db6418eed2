"""env.config — what the environment variables tell azure-identity, checked before any network call."""

from __future__ import annotations

import os
from collections.abc import Iterable

from preflight.check import Check
from preflight.context import Context
from preflight.envconfig import analyse_environment
from preflight.model import CheckMeta, Remediation, Result, Severity

DOCS = (
    "https://learn.microsoft.com/python/api/overview/azure/identity-readme#environment-variables",
    "https://learn.microsoft.com/azure/developer/python/sdk/authentication/credential-chains",
)


class EnvConfig(Check):
    """Catches a half-configured service principal, a secret shadowing a certificate, a missing federated
    token file or an invalid AZURE_TOKEN_CREDENTIALS — mistakes that otherwise surface as a confusing
    failure deep inside DefaultAzureCredential."""

    meta = CheckMeta(
        id="env.config",
        title="Environment configuration for azure-identity",
        severity=Severity.HIGH,
        description="Which credential the AZURE_* / IDENTITY_* / MSI_* variables select, and what is "
        "incomplete or contradictory. Values are shown with secrets hidden.",
        tags=("offline", "signin"),
        docs=DOCS,
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        analysis = analyse_environment(ctx.target.environ, os.path.exists)
        evidence = {
            "variables": analysis.variables,
            "environment_credential": analysis.environment_credential,
            "workload_identity": analysis.workload_identity,
            "managed_identity": analysis.managed_identity,
            "token_credentials": analysis.token_credentials,
        }
        if not analysis.findings:
            configured = (
                analysis.environment_credential or analysis.workload_identity or analysis.managed_identity != "IMDS"
            )
            summary = (
                f"environment variables configure {analysis.selected}; whether each one can sign in is "
                "signin.chain's question"
                if configured
                else "no credential is configured by environment variables; signin.chain probes the rest of "
                "DefaultAzureCredential's chain"
            )
            yield self.passed(summary, evidence=evidence)
            return
        for finding in analysis.findings:
            builder = self.failed if finding.level == "fail" else self.warned
            yield builder(finding.message, evidence=evidence, remediation=Remediation(finding.fix))
