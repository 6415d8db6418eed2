"""A whole command in backticks inside a fix's prose is lifted out into the remediation's commands (printed once,
on its own line, pasteable); a command merely named in a sentence stays prose."""

from __future__ import annotations

import re
import shlex

from preflight.aadsts import _TABLE, AadstsInfo, docs_url, format_fix
from preflight.model import Remediation, split_commands


def test_a_backticked_command_becomes_a_command_and_the_prose_points_at_it() -> None:
    fix = Remediation(
        "Create a new client secret: `az ad app credential reset --id A --append` (or use a certificate)."
    )
    assert fix.commands == ("az ad app credential reset --id A --append",)
    assert fix.text == "Create a new client secret: the command below (or use a certificate)."


def test_several_commands_are_numbered_and_explicit_commands_come_first() -> None:
    fix = Remediation(
        "review `az ad app permission list --id A`, then `az ad app permission admin-consent --id A`", ("x y",)
    )
    assert fix.commands == ("x y", "az ad app permission list --id A", "az ad app permission admin-consent --id A")
    assert fix.text == "review command 1 below, then command 2 below"


def test_a_command_named_without_arguments_or_other_code_stays_in_the_sentence() -> None:
    text = "only then `az ad sp create` provisions it; set `AZURE_TENANT_ID`"
    assert split_commands(text) == (text, ())
    assert Remediation(text).commands == ()


def test_every_aadsts_fix_lifts_whole_commands_and_leaves_none_in_its_prose() -> None:
    values = {"tenant": "t1", "app_id": "a1", "scope": "https://cognitiveservices.azure.com/.default"}
    for code, entry in _TABLE.items():
        info = AadstsInfo(code, entry.category, entry.title, entry.cause, entry.fix, docs_url(code), entry.ca_policy)
        fix = Remediation(format_fix(info, **values).fix)
        assert not re.search(r"(?<![\w-])az [a-z]", fix.text), f"AADSTS{code}: a command left in the prose: {fix.text}"
        for command in fix.commands:
            argv = shlex.split(command)
            assert argv[0] in ("az", "azd", "Connect-AzAccount") and len(argv) >= 3, (code, command)
            assert not set("<>|;&") & set(command), f"AADSTS{code}: not safe to paste: {command}"
