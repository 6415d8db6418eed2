"""The base every check derives from: metadata beside the code, ``run(ctx)`` yielding complete Results.

Third-party checks derive from :class:`Check` too and register under the ``preflight.checks`` entry-point
group with the check id as the entry-point name, exactly like the built-ins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from preflight.model import CheckMeta, Evidence, Remediation, Result, Status

if TYPE_CHECKING:
    from preflight.context import Context

EvidenceLike = Mapping[str, Any] | Sequence[Evidence] | None


class Check:
    """Subclasses set ``meta`` and implement ``run``. The helpers build Results already carrying the check's
    id, title, severity and docs, so a check only states what it found."""

    meta: ClassVar[CheckMeta]

    def run(self, ctx: Context) -> Iterable[Result]:
        raise NotImplementedError

    def result(
        self,
        status: Status,
        summary: str,
        *,
        subject: str | None = None,
        evidence: EvidenceLike = None,
        remediation: Remediation | str | None = None,
        commands: Sequence[str] = (),
        docs: Sequence[str] = (),
        caused_by: str | None = None,
    ) -> Result:
        if isinstance(remediation, str):
            remediation = Remediation(remediation, tuple(commands))
        elif remediation is None and commands:
            remediation = Remediation("Run:", tuple(commands))
        return Result(
            check_id=self.meta.id,
            title=self.meta.title,
            status=status,
            severity=self.meta.severity,
            summary=summary,
            subject=subject,
            evidence=_evidence(evidence),
            remediation=remediation,
            docs=tuple(docs) or self.meta.docs,
            caused_by=caused_by,
        )

    def passed(self, summary: str, **kwargs: Any) -> Result:
        return self.result(Status.PASS, summary, **kwargs)

    def failed(self, summary: str, **kwargs: Any) -> Result:
        return self.result(Status.FAIL, summary, **kwargs)

    def warned(self, summary: str, **kwargs: Any) -> Result:
        return self.result(Status.WARN, summary, **kwargs)

    def skipped(self, summary: str, **kwargs: Any) -> Result:
        return self.result(Status.SKIP, summary, **kwargs)


def _evidence(evidence: EvidenceLike) -> tuple[Evidence, ...]:
    if evidence is None:
        return ()
    if isinstance(evidence, Mapping):
        return tuple(Evidence(str(k), v) for k, v in evidence.items())
    return tuple(evidence)
