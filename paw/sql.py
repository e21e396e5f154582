"""The one way a Python string becomes SQL text, for the few statements that take no
parameters (CREATE SECRET, INSTALL, templates): everything else passes values as parameters."""


def sql_literal(value: str) -> str:
    """A SQL string literal: quotes doubled, so a path or a secret can never end it early."""
    return "'" + value.replace("'", "''") + "'"
