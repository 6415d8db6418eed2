from __future__ import annotations


class EnvConfig:
    pass
