"""Workload-identity federation, pure: what a federated assertion says and what a CI job will present.

Why: a workload identity signs in by handing Entra an assertion from another issuer (Kubernetes, GitHub
Actions, Azure Pipelines). Entra accepts it only when a ``federatedIdentityCredentials`` record of the app has
exactly the same issuer and subject (case-sensitive) and one of its audiences — and answers AADSTS70021 with
little more than "no matching record" otherwise. Computing the subject the job *will* present, from the CI
variables, lets preflight name the mismatch before the sign-in fails, and say which record to add.

Subject rules (GitHub OIDC reference, "Example subject claims"; Azure DevOps workload identity federation):

- GitHub Actions (issuer ``https://token.actions.githubusercontent.com``): a job that references an
  environment presents ``repo:OWNER/REPO:environment:NAME``; otherwise a ``pull_request`` event presents
  ``repo:OWNER/REPO:pull_request``; otherwise ``repo:OWNER/REPO:ref:<GITHUB_REF>`` (``refs/heads/main``,
  ``refs/tags/v1``). Organisations can customise the template; then this is only a hint.
- Azure Pipelines, Azure DevOps issuer (``https://vstoken.dev.azure.com/<organization id>``):
  ``sc://ORGANIZATION/PROJECT/SERVICE-CONNECTION-NAME``. Service connections using the newer Microsoft Entra
  issuer present an opaque subject that cannot be computed from the job's variables.

Nothing here verifies a signature: preflight reads the assertion only to compare its claims, never trusts it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from preflight.claims import ClaimsError, decode_claims

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
AZURE_DEVOPS_ISSUER_PREFIX = "https://vstoken.dev.azure.com/"
DEFAULT_AUDIENCE = "api://AzureADTokenExchange"
# GitHub's OIDC tokens live about five minutes (the ID token is minted when requested and is not refreshed by
# azure-identity's file-based path): a long job that reads the file late meets AADSTS700024.
SHORT_LIFETIME_S = 600

# preflight's own variables for what a CI job does not expose in its environment.
GITHUB_ENVIRONMENT_VAR = "PREFLIGHT_GITHUB_ENVIRONMENT"  # the job's `environment:` (not exported by GitHub)
SERVICE_CONNECTION_VAR = "PREFLIGHT_SERVICE_CONNECTION"  # the Azure Pipelines service connection's name

Source = Literal["github", "azure-pipelines"]


@dataclass(frozen=True, slots=True)
class Assertion:
    """The non-secret claims of a federated assertion (decoded, never verified)."""

    issuer: str | None
    subject: str | None
    audiences: tuple[str, ...]
    expires_on: int | None
    issued_at: int | None

    def lifetime_left(self, now: float) -> float | None:
        return None if self.expires_on is None else self.expires_on - now

    def to_dict(self) -> dict[str, Any]:
        return {
            "iss": self.issuer,
            "sub": self.subject,
            "aud": list(self.audiences),
            "exp": self.expires_on,
            "iat": self.issued_at,
        }


def read_assertion(token: str) -> Assertion:
    """iss / sub / aud / exp / iat of an assertion; raises :class:`preflight.claims.ClaimsError` (which never
    quotes the token) when it is not a JWT."""
    claims = decode_claims(token)
    aud = claims.get("aud")
    audiences: tuple[str, ...] = ()
    if isinstance(aud, str):
        audiences = (aud,)
    elif isinstance(aud, list):
        audiences = tuple(a for a in aud if isinstance(a, str))
    return Assertion(
        issuer=claims.get("iss") if isinstance(claims.get("iss"), str) else None,
        subject=claims.get("sub") if isinstance(claims.get("sub"), str) else None,
        audiences=audiences,
        expires_on=_int(claims.get("exp")),
        issued_at=_int(claims.get("iat")),
    )


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class ExpectedFederation:
    """What the running CI job will present: ``subject`` is None when it cannot be computed (``why`` says
    what is missing); ``issuer`` is None when the issuer is not known from the job's variables."""

    source: Source
    issuer: str | None
    subject: str | None
    why: str | None = None


def ci_subject(environ: Mapping[str, str]) -> ExpectedFederation | None:
    """The subject the current CI job would present, from its variables; None outside a known CI."""
    if environ.get("GITHUB_ACTIONS") == "true" or environ.get("GITHUB_REPOSITORY"):
        return github_subject(environ)
    if environ.get("TF_BUILD") or environ.get("SYSTEM_COLLECTIONURI"):
        return azure_pipelines_subject(environ)
    return None


def github_subject(environ: Mapping[str, str]) -> ExpectedFederation:
    """GitHub Actions' default subject template: environment, else pull_request, else the ref."""
    repo = environ.get("GITHUB_REPOSITORY", "")
    if not repo:
        return ExpectedFederation("github", GITHUB_ISSUER, None, "GITHUB_REPOSITORY is not set")
    environment = environ.get(GITHUB_ENVIRONMENT_VAR, "")
    if environment:
        return ExpectedFederation("github", GITHUB_ISSUER, f"repo:{repo}:environment:{environment}")
    if environ.get("GITHUB_EVENT_NAME") == "pull_request":
        return ExpectedFederation("github", GITHUB_ISSUER, f"repo:{repo}:pull_request")
    ref = environ.get("GITHUB_REF", "")
    if not ref:
        return ExpectedFederation("github", GITHUB_ISSUER, None, "GITHUB_REF is not set")
    return ExpectedFederation("github", GITHUB_ISSUER, f"repo:{repo}:ref:{ref}")


def azure_devops_organization(collection_uri: str) -> str | None:
    """``https://dev.azure.com/ORG/`` or ``https://ORG.visualstudio.com/`` → ``ORG``."""
    parts = urlsplit(collection_uri.strip())
    host = (parts.hostname or "").lower()
    if host == "dev.azure.com":
        segments = [s for s in parts.path.split("/") if s]
        return segments[0] if segments else None
    if host.endswith(".visualstudio.com"):
        return (parts.hostname or "").split(".")[0]
    return None


def azure_pipelines_subject(environ: Mapping[str, str]) -> ExpectedFederation:
    """``sc://ORG/PROJECT/CONNECTION`` with the Azure DevOps issuer (``vstoken.dev.azure.com/<org id>``)."""
    collection_id = environ.get("SYSTEM_COLLECTIONID", "")
    issuer = AZURE_DEVOPS_ISSUER_PREFIX + collection_id if collection_id else None
    org = azure_devops_organization(environ.get("SYSTEM_COLLECTIONURI", ""))
    project = environ.get("SYSTEM_TEAMPROJECT", "")
    connection = environ.get(SERVICE_CONNECTION_VAR, "")
    missing = [
        name
        for name, value in (
            ("SYSTEM_COLLECTIONURI", org),
            ("SYSTEM_TEAMPROJECT", project),
            (SERVICE_CONNECTION_VAR, connection),
        )
        if not value
    ]
    if missing:
        return ExpectedFederation("azure-pipelines", issuer, None, f"{', '.join(missing)} not set")
    return ExpectedFederation("azure-pipelines", issuer, f"sc://{org}/{project}/{connection}")


@dataclass(frozen=True, slots=True)
class FederatedRecord:
    """One of the app's ``federatedIdentityCredentials`` (Graph shape, reduced)."""

    name: str
    issuer: str
    subject: str | None
    audiences: tuple[str, ...]

    @classmethod
    def from_graph(cls, item: Mapping[str, Any]) -> FederatedRecord:
        return cls(
            str(item.get("name") or ""),
            str(item.get("issuer") or ""),
            item.get("subject") if isinstance(item.get("subject"), str) else None,
            tuple(str(a) for a in item.get("audiences") or (DEFAULT_AUDIENCE,)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "issuer": self.issuer, "subject": self.subject, "audiences": list(self.audiences)}


@dataclass(frozen=True, slots=True)
class FederationMatch:
    """Whether a presented (issuer, subject, audiences) matches one record, and if not, the closest one."""

    matched: FederatedRecord | None
    closest: FederatedRecord | None
    reason: str | None  # why the closest record does not match; None when matched

    @property
    def ok(self) -> bool:
        return self.matched is not None


def match_records(
    records: Sequence[FederatedRecord],
    issuer: str | None,
    subject: str | None,
    audiences: Iterable[str] = (DEFAULT_AUDIENCE,),
) -> FederationMatch:
    """Entra's rule: issuer and subject equal, case-sensitively; one audience among the record's.

    ``issuer`` None means "not known" (compare subjects only). A subject that differs only in letter case is
    called out, since it is the most common near-miss (GitHub repository names keep their case in ``sub``).
    """
    auds = tuple(audiences)
    if not records:
        return FederationMatch(None, None, "the application has no federated credentials")
    for record in records:
        if (
            (issuer is None or record.issuer == issuer)
            and record.subject == subject
            and (not auds or any(a in record.audiences for a in auds))
        ):
            return FederationMatch(record, None, None)
    same_issuer = [r for r in records if issuer is None or r.issuer.rstrip("/") == issuer.rstrip("/")]
    for record in same_issuer:
        if (
            record.subject is not None
            and subject is not None
            and record.subject.lower() == subject.lower()
            and record.subject != subject
        ):
            return FederationMatch(
                None,
                record,
                f"subject differs only in letter case: the record has "
                f"{record.subject!r}, the job presents {subject!r} "
                "(the comparison is case-sensitive)",
            )
        if record.subject == subject:
            if issuer is not None and record.issuer != issuer:
                return FederationMatch(
                    None,
                    record,
                    f"issuer differs: the record has {record.issuer!r}, the "
                    f"assertion {issuer!r} (a trailing slash matters)",
                )
            return FederationMatch(
                None,
                record,
                f"audience differs: the record accepts "
                f"{', '.join(record.audiences)}, the assertion has "
                f"{', '.join(auds) or 'none'}",
            )
    if same_issuer:
        return FederationMatch(
            None, same_issuer[0], f"no record for subject {subject!r} from issuer {issuer or same_issuer[0].issuer!r}"
        )
    return FederationMatch(None, records[0], f"no record for issuer {issuer!r}")


def read_assertion_file(path: str) -> Assertion:
    """Read ``AZURE_FEDERATED_TOKEN_FILE``'s assertion (an OSError or ClaimsError tells the caller why not)."""
    with open(path, encoding="utf-8") as handle:
        return read_assertion(handle.read())


__all__ = [
    "AZURE_DEVOPS_ISSUER_PREFIX",
    "DEFAULT_AUDIENCE",
    "GITHUB_ISSUER",
    "SHORT_LIFETIME_S",
    "Assertion",
    "ClaimsError",
    "ExpectedFederation",
    "FederatedRecord",
    "FederationMatch",
    "azure_devops_organization",
    "azure_pipelines_subject",
    "ci_subject",
    "github_subject",
    "match_records",
    "read_assertion",
    "read_assertion_file",
]
