"""Experiment results with significance (docs/semantics.md, experiments), computed by the build.

Per experiment and variant, persons shown several variants excluded: conversion rate, and against
the control: lift, the 95% Wald interval of the difference of rates (unpooled variance), the
two-sided two-proportion z-test's p-value (pooled variance). Per experiment: the chi-square
goodness-of-fit p-value of the variants' person counts against expected_split (sample ratio
mismatch) and the winner. SQL has no normal or chi-square distribution, hence Python and scipy
(its special functions: scipy.stats, which computes with the same ones, takes seconds to import
on every build).
"""

import math

from scipy.special import chdtrc, ndtr, ndtri

# The model's columns and their types.
COLUMNS = (
    ("experiment_key", "varchar"),
    ("variant", "varchar"),
    ("is_control", "boolean"),
    ("persons", "bigint"),
    ("conversions", "bigint"),
    ("conversion_rate", "double"),
    ("lift", "double"),
    ("diff_ci_low", "double"),
    ("diff_ci_high", "double"),
    ("p_value", "double"),
    ("is_significant", "boolean"),
    ("multiple_variant_persons", "bigint"),
    ("srm_p_value", "double"),
    ("has_sample_ratio_mismatch", "boolean"),
    ("winner", "varchar"),
)
SRM_ALPHA = 0.001
Z_95 = float(ndtri(0.975))


def expected_weights(expected_split, variants):
    """variant -> weight: from 'a=1;b=2', or equal weights when the split is empty."""
    if not expected_split or not expected_split.strip():
        return {variant: 1.0 for variant in variants}
    weights = {}
    for pair in expected_split.split(";"):
        name, _, weight = pair.partition("=")
        weights[name.strip()] = float(weight)
    return weights


def srm_p_value(persons, expected_split):
    """Chi-square goodness of fit of the person counts against the expected split."""
    weights = expected_weights(expected_split, persons)
    variants = sorted(set(persons) | set(weights))
    observed = [persons.get(variant, 0) for variant in variants]
    if len(variants) < 2 or sum(observed) == 0:
        return None
    total_weight = sum(weights.get(variant, 0.0) for variant in variants)
    expected = [sum(observed) * weights.get(v, 0.0) / total_weight for v in variants]
    if any(e == 0 and o > 0 for e, o in zip(expected, observed, strict=True)):
        return 0.0  # persons in a variant expected to get none: a certain mismatch
    kept = [(o, e) for o, e in zip(observed, expected, strict=True) if e > 0]
    statistic = sum((o - e) ** 2 / e for o, e in kept)
    return float(chdtrc(len(kept) - 1, statistic))  # the chi-square survival function


def versus_control(n, x, n_control, x_control):
    """lift, diff_ci_low, diff_ci_high, p_value of a variant (n persons, x conversions)."""
    if not n or not n_control:
        return None, None, None, None
    rate, control_rate = x / n, x_control / n_control
    lift = rate / control_rate - 1 if control_rate > 0 else None
    diff = rate - control_rate
    se_unpooled = math.sqrt(rate * (1 - rate) / n + control_rate * (1 - control_rate) / n_control)
    pooled = (x + x_control) / (n + n_control)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / n_control))
    p_value = float(2 * ndtr(-abs(diff) / se_pooled)) if se_pooled > 0 else None
    return lift, diff - Z_95 * se_unpooled, diff + Z_95 * se_unpooled, p_value


def experiment_rows(experiment, counts, multiple, alpha):
    key, control, expected_split = experiment
    persons = {variant: n for variant, (n, _) in counts.items()}
    srm = srm_p_value(persons, expected_split)
    n_control, x_control = counts.get(control, (0, 0))
    rows = []
    for variant in sorted(counts):
        n, x = counts[variant]
        is_control = variant == control
        lift = low = high = p_value = significant = None
        if not is_control:
            lift, low, high, p_value = versus_control(n, x, n_control, x_control)
            significant = p_value is not None and p_value < alpha
        rows.append(
            {
                "experiment_key": key,
                "variant": variant,
                "is_control": is_control,
                "persons": n,
                "conversions": x,
                "conversion_rate": x / n if n else None,
                "lift": lift,
                "diff_ci_low": low,
                "diff_ci_high": high,
                "p_value": p_value,
                "is_significant": significant,
                "multiple_variant_persons": multiple,
                "srm_p_value": srm,
                "has_sample_ratio_mismatch": srm is not None and srm < SRM_ALPHA,
            }
        )
    winners = [r for r in rows if r["is_significant"] and r["lift"] is not None and r["lift"] > 0]
    winner = max(winners, key=lambda r: r["conversion_rate"])["variant"] if winners else None
    for row in rows:
        row["winner"] = winner
    return rows


def sql_literal(value, kind):
    """A value as a SQL literal of its column's type; a double's repr reads back exactly."""
    if value is None:
        return f"cast(null as {kind})"
    if kind == "varchar":
        return "'" + str(value).replace("'", "''") + "'"
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "bigint":
        return f"cast({int(value)} as bigint)"
    return f"cast('{float(value)!r}' as double)"


def result_relation(session, rows):
    """The rows as a DuckDB relation of COLUMNS' types, written as SQL literals. Neither a
    pyarrow table nor bound parameters: pyarrow and DuckDB's parameters both import pandas to
    check the values' types, which took 0.7 s of every build at any size."""
    names = ", ".join(name for name, _ in COLUMNS)
    if not rows:
        typed = ", ".join(f"cast(null as {kind}) as {name}" for name, kind in COLUMNS)
        return session.sql(f"select {typed} where false")
    values = ", ".join(
        "(" + ", ".join(sql_literal(row[name], kind) for name, kind in COLUMNS) + ")"
        for row in rows
    )
    return session.sql(f"select * from (values {values}) as results ({names})")


def model(dbt, session):
    dbt.config(materialized="table")
    alpha = float(dbt.config.get("experiment_alpha"))
    experiments = (
        dbt.ref("experiments").project("experiment_key, control_variant, expected_split").fetchall()
    )
    exposures = dbt.ref("int_experiment_exposures")
    counts = (
        exposures.filter("not is_multiple_variant")
        .aggregate(
            "experiment_key, variant, count(*), count(*) filter (where converted)",
            "experiment_key, variant",
        )
        .fetchall()
    )
    multiples = dict(
        exposures.filter("is_multiple_variant")
        .aggregate("experiment_key, count(*)", "experiment_key")
        .fetchall()
    )
    by_experiment = {}
    for key, variant, n, x in counts:
        by_experiment.setdefault(key, {})[variant] = (n, x)
    rows = []
    for experiment in experiments:
        key = experiment[0]
        if key in by_experiment:
            rows += experiment_rows(experiment, by_experiment[key], multiples.get(key, 0), alpha)
    return result_relation(session, rows)
