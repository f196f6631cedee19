"""Population, labels, training cutoffs and training sets (DESIGN.md, "Prediction problem").

Labels look only at ``cutoff <= timestamp < cutoff + horizon``; features (:mod:`churnml.features`)
only at ``timestamp < cutoff``. An event exactly at the cutoff is therefore label, never feature.

* **Population** at a cutoff: see :func:`churnml.features.population_body` (the rule is written
  once there because the feature query needs it too).
* **Outside the population**: the customers of the customers table the rule leaves out, each
  with the reason and its date (:func:`outside_population`), for the HTTP API's ``not_found``.
* **Churn**: with ``churn_events`` (contractual), a churn event inside the horizon; without it
  (non-contractual), no transaction inside the horizon.
* **Value**: ``sum(amount) * problem.margin`` inside the horizon (refunds included).
* **Training set**: the test cutoff(s) at ``as_of - horizon``, so every label window ends on or
  before ``as_of``; validation one horizon earlier, then the train cutoffs ``cutoff_step_days``
  apart one horizon before that: the gaps are purged, no label window reaches into a later
  split's (:func:`training_cutoffs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from churnml.config import Config
from churnml.dataset import Dataset
from churnml.errors import ConfigError, ProblemError
from churnml.features import (
    FeatureSpec,
    activity_body,
    build_features,
    cutoffs_sql,
    feature_specs,
    normalize_cutoffs,
    on_survey_scale,
    population_body,
    population_rule,
    table_columns,
)
from churnml.validate import named_table

SPLITS = ("train", "validation", "test")
DATA_END_TOLERANCE = pd.Timedelta(days=7)
"""How far a scoring ``as_of`` may lie after the last event (a run on "today" over data that ends
a few days earlier): the features then read those days as days without purchases."""
LABEL_END_TOLERANCE = pd.Timedelta(days=1)
"""How far a label window may end after the last event (training's ``as_of``, evaluate's
horizon): the day after the data ends. A week later, the test window missed up to 7 of its 90
days, and with the non-contractual label the missing days count as churn."""


@dataclass
class TrainingSet:
    """Features and labels over several cutoffs, split out of time.

    Attributes
    ----------
    frame : pandas.DataFrame
        ``customer_id``, ``cutoff``, every feature, ``churned`` (int8), ``value`` (float64) and
        ``split`` (``train`` / ``validation`` / ``test``), ordered by cutoff then customer.
    feature_names : list of str
        Feature columns, in :func:`churnml.features.feature_specs` order.
    categorical_features : list of str
        The feature columns with pandas ``category`` dtype.
    cutoffs : list of pandas.Timestamp
        Oldest first.
    specs : list of FeatureSpec
    split_cutoffs : dict
        ``split`` -> its cutoffs.
    data_start : pandas.Timestamp or None
        The first transaction (None when the engine did not say).
    season_frame : pandas.DataFrame or None
        ``customer_id``, ``cutoff`` and every feature at the :func:`season_cutoffs` (no labels,
        no split): the drift reference's seasons between the training cutoffs. None when the
        engine built none.
    """

    frame: pd.DataFrame
    feature_names: list[str]
    categorical_features: list[str]
    cutoffs: list[pd.Timestamp]
    specs: list[FeatureSpec]
    split_cutoffs: dict[str, list[pd.Timestamp]] = field(default_factory=dict)
    data_start: pd.Timestamp | None = None
    season_frame: pd.DataFrame | None = None

    def history_days(self) -> float | None:
        """Days of transaction history before the first cutoff (None without ``data_start``)."""
        if self.data_start is None or not self.cutoffs:
            return None
        return (min(self.cutoffs) - self.data_start) / pd.Timedelta(days=1)

    def split(self, name: str) -> pd.DataFrame:
        """Rows of one split (``train``, ``validation`` or ``test``)."""
        if name not in SPLITS:
            raise ValueError(f"Unknown split {name!r}. Use one of: {', '.join(SPLITS)}.")
        return self.frame[self.frame["split"] == name]


def population_sql(dataset: Dataset, cutoffs: Sequence[pd.Timestamp], config: Config) -> str:
    """Query selecting ``customer_id, cutoff`` for the population at each cutoff."""
    layout = table_columns(dataset)
    return (
        f"WITH cutoffs AS ({cutoffs_sql(cutoffs, config)}),\n"
        f"act AS ({activity_body()}),\n"
        f"pop AS ({population_body(layout, config, activity='act')})\n"
        "SELECT customer_id, cutoff FROM pop ORDER BY cutoff, customer_id"
    )


def population(dataset: Dataset, cutoffs: Sequence[pd.Timestamp], config: Config) -> pd.DataFrame:
    """The population at each cutoff: ``customer_id``, ``cutoff``, ordered by cutoff then customer.

    Example
    -------
    >>> population(ds, [pd.Timestamp("2024-01-01")], Config())   # doctest: +SKIP
    """
    frame = dataset.con.execute(population_sql(dataset, cutoffs, config)).df()
    return _key_types(frame)


OUTSIDE_REASONS = {
    "signed_up": "the sign-up date (on or after the as-of date)",
    "no_history": "none: no sign-up date and no transaction before the as-of date",
    "closed": "the first churn event (before the as-of date)",
    "inactive": "the last transaction before the as-of date (none when there is none)",
}
"""Why :func:`outside_population` leaves a customer out (its ``reason``) -> what its ``date`` is.
The first that applies, in this order."""


def outside_population_sql(layout: Mapping[str, frozenset[str]], as_of: pd.Timestamp, config: Config) -> str:
    """Query of ``customer_id, reason, date`` for the customers outside the population at ``as_of``
    (:func:`outside_population`), from the rule the population query uses
    (:func:`churnml.features.population_rule`)."""
    sources, conditions = population_rule(layout, activity="act")
    holds = {name: f"COALESCE({condition}, FALSE)" for name, condition in conditions.items()}  # NULL: left out
    has_signup = "signup_date" in layout["customers"]
    existed = (f"WHEN NOT {holds['existed']} THEN "
               + ("CASE WHEN cu.signup_date IS NOT NULL THEN 'signed_up' ELSE 'no_history' END" if has_signup else "'no_history'"))
    if "open" in holds:
        last = f"WHEN NOT {holds['open']} THEN 'closed'"
        dated = "ce.first_churn_ts"
    else:
        last = f"WHEN NOT {holds['active']} THEN 'inactive'"
        dated = "act.last_txn_ts"
    signup = "WHEN 'signed_up' THEN CAST(cu.signup_date AS TIMESTAMP) " if has_signup else ""
    reason = f"CASE {existed} {last} END"
    return (
        f"WITH cutoffs AS ({cutoffs_sql([as_of], config)}),\n"
        f"act AS ({activity_body()})\n"
        f"SELECT CAST(cu.customer_id AS VARCHAR) AS customer_id, {reason} AS reason, "
        f"CASE {reason} {signup}WHEN 'no_history' THEN NULL ELSE CAST({dated} AS TIMESTAMP) END AS date\n"
        f"FROM {' '.join(sources)}\nWHERE NOT ({' AND '.join(holds.values())})\nORDER BY customer_id"
    )


def outside_population(dataset: Dataset, as_of: pd.Timestamp, config: Config) -> pd.DataFrame:
    """The customers of the customers table outside the population at ``as_of``, and why.

    The HTTP API names the reason in the ``not_found`` detail of such a customer (``churnml score``
    writes this beside its feature snapshot: :func:`churnml.io.write_snapshot`), where it could only
    list the possible ones.

    Returns
    -------
    pandas.DataFrame
        ``customer_id`` (str), ``reason`` (a key of :data:`OUTSIDE_REASONS`, category) and
        ``date`` (datetime64 at midnight: the day of it; NaT for none), ordered by customer; together with
        :func:`population` at ``as_of``, every customer once.
    """
    frame = dataset.con.execute(outside_population_sql(table_columns(dataset), pd.Timestamp(as_of), config)).df()
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["reason"] = pd.Categorical(frame["reason"], categories=list(OUTSIDE_REASONS))
    frame["date"] = pd.to_datetime(frame["date"]).dt.floor("D")  # the day is what is said: half the file's size
    return frame


def problem_definition(config: Config, tables: Iterable[str]) -> dict[str, Any]:
    """What the models predict, as recorded with them: the horizon, the value label's margin and
    the churn definition (``closure`` with a ``churn_events`` table; ``inactivity`` over
    ``active_days`` without). Scores from models trained for another definition mean something
    else, and their metrics do not compare: see :func:`problem_differences`."""
    problem = config.problem
    closure = "churn_events" in set(tables)
    definition: dict[str, Any] = {"horizon_days": int(problem.horizon_days), "margin": float(problem.margin),
                                  "churn": "closure" if closure else "inactivity"}
    if not closure:
        definition["active_days"] = int(problem.active_days)
    return definition


def describe_problem(definition: Mapping[str, Any] | None) -> str | None:
    """What churn (and value) mean for models of ``definition`` (:func:`problem_definition`), in
    a marketer's words for reports; None for models that predate the record. No report said it,
    and a reader took "churn" for "stops buying" where it meant an account closure.

    >>> describe_problem({"horizon_days": 90, "margin": 1.0, "churn": "closure"})  # doctest: +NORMALIZE_WHITESPACE
    'churn = the account closes (a row in churn_events) within 90 days; a customer who only stops buying does not
    count; value = the amounts as recorded: revenue, before costs ([problem] margin counts a share of it)'
    """
    if not definition:
        return None
    horizon = definition.get("horizon_days")
    if definition.get("churn") == "closure":
        text = (f"churn = the account closes (a row in churn_events) within {horizon} days; a customer who only stops "
                "buying does not count")
    else:
        text = (f"churn = no transaction within {horizon} days, among customers with one in the "
                f"{definition.get('active_days')} days before")
    if float(definition.get("margin", 1.0)) == 1:
        return f"{text}; value = the amounts as recorded: revenue, before costs ([problem] margin counts a share of it)"
    return f"{text}; value = {value_basis(definition)}"


def value_basis(definition: Mapping[str, Any] | None) -> str:
    """What the money of scores and lists is, in short, from the models' ``definition``
    (:func:`problem_definition`): the amounts as recorded (revenue) or a share of them. A
    wholesaler at a 15 % gross margin read a list's ROI of 3,994 % on revenue as profit.

    >>> value_basis({"margin": 1.0}), value_basis({"margin": 0.15})
    ('revenue ([problem] margin 1)', '0.15 × amount ([problem] margin)')
    """
    margin = float((definition or {}).get("margin", 1.0))
    return "revenue ([problem] margin 1)" if margin == 1 else f"{margin:g} × amount ([problem] margin)"


def problem_differences(trained: Mapping[str, Any] | None, current: Mapping[str, Any]) -> list[str]:
    """How ``current`` differs from the ``trained`` definition, in words (empty when it does not,
    or when the models predate the record)."""
    if not trained:
        return []
    said = {
        "horizon_days": lambda v: f"a {v}-day horizon ([problem] horizon_days)",
        "margin": lambda v: f"margin {v:g} ([problem] margin)",
        "churn": lambda v: ("churn = an account closure (a churn_events table)" if v == "closure"
                            else "churn = no transaction in the horizon (no churn_events table)"),
        "active_days": lambda v: f"a population of customers active in the last {v} days ([problem] active_days)",
    }
    return [f"{said[key](trained[key])} when trained, {said[key](current[key])} here"
            for key in said if key in trained and key in current and trained[key] != current[key]]


def refuse_other_problem(metadata: Mapping[str, Any], config: Config, tables: Iterable[str]) -> None:
    """Raise :class:`ConfigError` when ``config`` and ``tables`` define churn or value otherwise than
    the models of ``metadata`` (a training run's; ``value_problem``: the value model's, when it
    comes from another run) were trained for: a feed without its churn_events table scored closed
    accounts as customers, and margin 0.1 cut every value tenfold, without a word."""
    current = problem_definition(config, tables)
    for key, which in (("problem", "models were"), ("value_problem", "value model (from another run) was")):
        differences = problem_differences(metadata.get(key), current)
        if differences:
            raise ConfigError(
                f"The {which} trained for another problem: {'; '.join(differences)}. Use the config and tables "
                "used for training, or train models for this definition"
                + (" (or promote the value model of the churn model's run)." if key == "value_problem" else ".")
            )


CALENDAR_CHURNER_SHARE = 0.25
"""Share of a cutoff's churners who usually buy less often than the horizon from which train warns
(:func:`calendar_churn`). A B2B export with annual invoices, without churn_events, had 55 % (298 of
543 at its test cutoff; 81 % of its annual payers who never cancelled were labelled churned, no
monthly one); data from `churnml generate` without churn_events 1 to 3 % with the 90-day horizon,
18 % with a 30-day one, where traders of every five or six weeks lapse as the calendar has it."""


def calendar_churn(frame: pd.DataFrame, definition: Mapping[str, Any] | None) -> dict[str, Any]:
    """The customers of ``frame`` (one cutoff's rows: ``mean_gap_days``, ``churned``) who usually buy
    less often than the horizon, when churn is inactivity (``definition``: :func:`problem_definition`)
    and they are :data:`CALENDAR_CHURNER_SHARE` of the churners or more; empty otherwise.

    Without churn_events, churn is no transaction within the horizon: a customer billed once a year
    has none in most 90-day windows, so the label follows the billing calendar rather than who
    leaves, and the models learn that calendar. Customers with one purchase (no usual gap) are not
    counted.

    Returns
    -------
    dict
        ``rows``, ``customers`` (distinct), ``infrequent`` (rows whose mean gap exceeds the
        horizon), their ``infrequent_churners`` of ``churners``, ``infrequent_churn_rate`` and
        ``other_churn_rate``, ``median_gap_days`` of the infrequent, and ``horizon_days``.
    """
    if not definition or definition.get("churn") != "inactivity" or "mean_gap_days" not in frame:
        return {}
    horizon = int(definition["horizon_days"])
    gap = frame["mean_gap_days"].astype(float)
    infrequent = (gap > horizon).to_numpy()  # a missing gap (one purchase) compares False
    churned = frame["churned"].to_numpy(dtype=int)
    churners, found = int(churned.sum()), int(churned[infrequent].sum())
    if churners == 0 or found < CALENDAR_CHURNER_SHARE * churners:
        return {}
    return {"rows": int(len(frame)), "customers": int(frame["customer_id"].nunique()), "infrequent": int(infrequent.sum()),
            "infrequent_churners": found, "churners": churners, "infrequent_churn_rate": float(churned[infrequent].mean()),
            "other_churn_rate": float(churned[~infrequent].mean()) if (~infrequent).any() else float("nan"),
            "median_gap_days": float(gap[infrequent].median()), "horizon_days": horizon}


def calendar_churn_text(found: Mapping[str, Any], where: str) -> str:
    """What :func:`calendar_churn` found, and the fix, for train's warning and the run report;
    ``where`` names the cutoff(s) ("the test cutoff (2025-09-02)").

    >>> calendar_churn_text({"rows": 1182, "customers": 1182, "infrequent": 368, "infrequent_churners": 298,
    ...     "churners": 543, "infrequent_churn_rate": 0.81, "other_churn_rate": 0.301, "median_gap_days": 365.0,
    ...     "horizon_days": 90}, "the test cutoff (2025-09-02)")[:160]
    '368 of the 1,182 customers at the test cutoff (2025-09-02) usually buy less often than every 90 days, the horizon (a median 365 days between purchases): 81.0% o'
    """
    horizon, gap = found["horizon_days"], found["median_gap_days"]
    rows, customers = found["rows"], found["customers"]
    size = f"{rows:,} customers" if rows == customers else f"{rows:,} rows ({customers:,} customers)"
    longer = int(-(-gap * 1.05 // 50) * 50)  # a round number above the usual gap: 400 for yearly invoices
    return (f"{found['infrequent']:,} of the {size} at {where} usually buy less often than every {horizon} days, "
            f"the horizon (a median {gap:,.0f} days between purchases): {found['infrequent_churn_rate']:.1%} of them count "
            f"as churned against {found['other_churn_rate']:.1%} of the others, and they are {found['infrequent_churners']:,} "
            f"of the {found['churners']:,} churners. Without a churn_events table churn is no transaction within the "
            "horizon, so for them it follows the billing or buying calendar (an annual invoice due or not) rather than who "
            "leaves, and the models learn that calendar: a high ROC AUC says little of who leaves. Add churn_events with "
            f"the cancellations (a row per account closed), or set [problem] horizon_days longer than their usual gap (e.g. {longer}; training needs three "
            "horizons of history before the as-of date, and score the same horizon)")


def label_sql(dataset: Dataset, cutoffs: Sequence[pd.Timestamp], config: Config) -> str:
    """Query of ``customer_id, cutoff, churned, value`` for the population at each cutoff."""
    return label_query(table_columns(dataset), cutoffs, config)


def label_query(layout: Mapping[str, frozenset[str]], cutoffs: Sequence[pd.Timestamp], config: Config) -> str:
    """:func:`label_sql` for a data layout (tables -> columns) held by any engine (DuckDB dialect)."""
    contractual = "churn_events" in layout
    window = "{a}.timestamp >= k.cutoff AND {a}.timestamp < k.label_end"
    ctes = [
        ("cutoffs", cutoffs_sql(cutoffs, config)),
        ("act", activity_body()),
        ("pop", population_body(layout, config, activity="act")),
        ("lt", "SELECT t.customer_id, k.cutoff, COUNT(*) AS n, SUM(t.amount) AS amount "
               f"FROM transactions AS t JOIN cutoffs AS k ON {window.format(a='t')} GROUP BY t.customer_id, k.cutoff"),
    ]
    if contractual:
        ctes.append((
            "lc", "SELECT c.customer_id, k.cutoff, COUNT(*) AS n "
                  f"FROM churn_events AS c JOIN cutoffs AS k ON {window.format(a='c')} GROUP BY c.customer_id, k.cutoff",
        ))
        churned = "CASE WHEN lc.n IS NOT NULL THEN 1 ELSE 0 END"
        join_churn = "LEFT JOIN lc ON lc.customer_id = p.customer_id AND lc.cutoff = p.cutoff"
    else:
        churned = "CASE WHEN lt.n IS NULL THEN 1 ELSE 0 END"
        join_churn = ""
    margin = float(config.problem.margin)
    return (
        "WITH " + ",\n".join(f"{name} AS ({body})" for name, body in ctes)
        + f"\nSELECT p.customer_id, p.cutoff, CAST({churned} AS TINYINT) AS churned, "
        f"CAST(COALESCE(lt.amount, 0) * {margin!r} AS DOUBLE) AS value\n"
        "FROM pop AS p LEFT JOIN lt ON lt.customer_id = p.customer_id AND lt.cutoff = p.cutoff\n"
        f"{join_churn}\nORDER BY p.cutoff, p.customer_id"
    )


def build_labels(dataset: Dataset, cutoffs: Sequence[pd.Timestamp], config: Config) -> pd.DataFrame:
    """Churn and value labels for the population at each cutoff.

    Parameters
    ----------
    dataset : Dataset
    cutoffs : sequence of pandas.Timestamp
    config : Config
        ``problem.horizon_days``, ``problem.active_days``, ``problem.margin``.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``cutoff``, ``churned`` (int8), ``value`` (float64), ordered by cutoff
        then customer; the same rows as :func:`churnml.features.build_features`.
    """
    frame = dataset.con.execute(label_sql(dataset, cutoffs, config)).df()
    frame = _key_types(frame)
    frame["churned"] = frame["churned"].astype("int8")
    frame["value"] = frame["value"].astype("float64")
    return frame


def training_cutoffs(as_of: pd.Timestamp, config: Config, data_start: pd.Timestamp) -> list[pd.Timestamp]:
    """Training cutoffs, oldest first, every label window ending on or before ``as_of``.

    The test cutoffs come last: the latest is ``as_of - horizon`` and the others step back by
    ``cutoff_step_days``. The validation cutoffs come before them and the train cutoffs before
    those, each split ending at least one horizon before the next split's first cutoff, so that
    no label window of one split reaches into the next (*purged*). Without that gap, a training
    label would see churn inside the validation and test windows, and a model that recognises a
    customer from one cutoff to the next would score well on validation and test by memory: more
    trees always look better, though on customers it never saw they do worse. In production
    nothing overlaps (the model scores the window after ``as_of``), so the purge makes validation
    and test measure what scoring will meet.

    ``n_cutoffs`` counts all of them; only cutoffs after ``data_start`` are kept (a cutoff needs
    history before it), dropping the oldest train cutoffs first.

    Parameters
    ----------
    as_of : pandas.Timestamp
        The date the data is known up to (exclusive).
    config : Config
    data_start : pandas.Timestamp
        The first transaction.

    Returns
    -------
    list of pandas.Timestamp

    Raises
    ------
    ProblemError
        When fewer than ``n_validation_cutoffs + n_test_cutoffs + 1`` cutoffs fit.

    Example
    -------
    >>> cfg = Config().replace(problem={"n_cutoffs": 4})
    >>> [str(c.date()) for c in training_cutoffs(pd.Timestamp("2024-07-01"), cfg, pd.Timestamp("2022-01-01"))]
    ['2023-09-05', '2023-10-05', '2024-01-03', '2024-04-02']
    """
    problem = config.problem
    as_of, data_start = pd.Timestamp(as_of), pd.Timestamp(data_start)
    step = pd.Timedelta(days=problem.cutoff_step_days)
    gap = max(step, pd.Timedelta(days=problem.horizon_days))  # from a split's last cutoff to the next split's first
    n_train = problem.n_cutoffs - problem.n_validation_cutoffs - problem.n_test_cutoffs
    candidates: list[pd.Timestamp] = []
    first_of_next = as_of - pd.Timedelta(days=problem.horizon_days) + gap  # the latest test cutoff is as_of - horizon
    for count in (problem.n_test_cutoffs, problem.n_validation_cutoffs, n_train):
        latest = first_of_next - gap
        candidates += [latest - i * step for i in range(count)]
        first_of_next = candidates[-1]
    cutoffs = sorted(c for c in candidates if c > data_start)
    needed = problem.n_validation_cutoffs + problem.n_test_cutoffs + 1
    if len(cutoffs) < needed:
        raise ProblemError(
            f"Only {len(cutoffs)} training cutoff(s) fit between the data's start {data_start:%Y-%m-%d} and "
            f"as-of {as_of:%Y-%m-%d} minus the {problem.horizon_days}-day horizon; at least {needed} are needed "
            f"({problem.n_test_cutoffs} test, {problem.n_validation_cutoffs} validation, 1 train, one horizon apart "
            "so no label window reaches into the next split). "
            "Use a later --as-of, more history, or lower [problem] horizon_days or cutoff_step_days."
        )
    return cutoffs


SEASON_TOLERANCE = pd.Timedelta(days=15)
"""How far from a year before ``as_of`` a training cutoff may lie to count as the same season:
half the default ``cutoff_step_days``. Training uses :func:`season_tolerance` of the configured
step (the value level and the drift reference alike); this is the rule of references that
predate it."""


def season_tolerance(step_days: float) -> pd.Timedelta:
    """How far a season's cutoff may lie from a year before the scored date: half a cutoff step.
    Cutoffs a step apart then cover every day between them, and none is matched more than half a
    step off (a cutoff 30 days off has read half of another month into a 30-day window)."""
    return pd.Timedelta(days=float(step_days) / 2)


def season_cutoffs(cutoffs: Sequence[pd.Timestamp], as_of: pd.Timestamp, config: Config,
                   data_start: pd.Timestamp | None = None) -> list[pd.Timestamp]:
    """Cutoffs for features only, a step apart in the gaps between the training ``cutoffs``, for the
    drift reference's seasons (:func:`churnml.monitoring.season_reference`).

    The splits are a horizon apart (:func:`training_cutoffs`): with the defaults the last train
    cutoff lies 270 days before ``as_of`` and the validation one 180, so scores 111 to 169 days after
    ``as_of`` found no cutoff a year (half a step) before them and were compared with the test
    cutoff, a season away (``frequency_trend`` PSI 0.27 at 121 days on generated data). Features
    need no label window, so the gaps are filled, up to the last cutoff that scores within the
    model's life (``[monitoring] max_model_age_days``) can meet: one cutoff (``as_of`` - 240 days)
    with the defaults. None before ``data_start`` (a cutoff needs history before it).

    >>> cfg = Config()
    >>> as_of = pd.Timestamp("2025-12-01")
    >>> [f"{c:%Y-%m-%d}" for c in season_cutoffs(training_cutoffs(as_of, cfg, pd.Timestamp("2020-01-01")), as_of, cfg)]
    ['2025-04-05']
    """
    step = pd.Timedelta(days=config.problem.cutoff_step_days)
    # The latest season a score in the model's life can be matched with.
    last = (pd.Timestamp(as_of) + pd.Timedelta(days=config.monitoring.max_model_age_days) - pd.Timedelta(days=365)
            + season_tolerance(config.problem.cutoff_step_days))
    ordered = sorted(pd.Timestamp(c) for c in cutoffs)
    filled = []
    for earlier, later in zip(ordered, ordered[1:]):
        cutoff = earlier + step
        while cutoff < later and cutoff <= last:
            if data_start is None or cutoff > pd.Timestamp(data_start):
                filled.append(cutoff)
            cutoff += step
    return filled


def same_season_cutoff(cutoffs: Sequence[pd.Timestamp], as_of: pd.Timestamp,
                       tolerance: pd.Timedelta = SEASON_TOLERANCE,
                       data_start: pd.Timestamp | None = None) -> pd.Timestamp | None:
    """The training cutoff whose label window is the scored one's a year earlier, or None.

    Scores at ``as_of`` predict the horizon after it; the cutoff nearest ``as_of`` minus 365 days
    saw the same season, both in its features' windows and in its label window. The value model's
    level is fitted there (:func:`churnml.train.train_on`): fitted on the test cutoff, a horizon
    before ``as_of``, it carried that quarter's season into the next one (forward tests on
    generated data: 41 % high after a January-March test window, 25 % low after July-September).
    With the default cutoffs (6, 30 days apart, a 90-day horizon) the oldest train cutoff lies 360
    days before ``as_of``; None when no cutoff is within ``tolerance``, or when that cutoff has less
    than a year of data before it (``data_start``, the first transaction): its 365-day and
    lifetime windows are cut short there, so the level it gives is not the season's. On a
    wholesaler's export starting 2024-12-01 (customers since 2012), the model's level on retained
    customers rose over the cutoffs (0.954 to 1.059); the factor fitted 280 days into the data was
    1.045 and predicted value came out 12.3 % high in a forward test; fitted on the test cutoff
    (0.967), about 4 % high.

    >>> cutoffs = [pd.Timestamp(d) for d in ("2024-10-06", "2024-11-05", "2025-04-04", "2025-07-03")]
    >>> same_season_cutoff(cutoffs, pd.Timestamp("2025-10-01"))
    Timestamp('2024-10-06 00:00:00')
    >>> same_season_cutoff(cutoffs[1:], pd.Timestamp("2025-10-01")) is None
    True
    >>> same_season_cutoff(cutoffs, pd.Timestamp("2025-10-01"), data_start=pd.Timestamp("2024-01-01")) is None
    True
    """
    target = pd.Timestamp(as_of) - pd.Timedelta(days=365)
    near = [c for c in cutoffs if abs(pd.Timestamp(c) - target) <= tolerance
            and (data_start is None or pd.Timestamp(c) - pd.Timestamp(data_start) >= pd.Timedelta(days=365))]
    return min(near, key=lambda c: (abs(pd.Timestamp(c) - target), c)) if near else None


def data_start(dataset: Dataset) -> pd.Timestamp:
    """The first transaction's timestamp."""
    return checked_data_start(dataset.con.execute("SELECT MIN(timestamp) FROM transactions").fetchone()[0])


def checked_data_start(first: Any) -> pd.Timestamp:
    """The first transaction's timestamp as an engine found it, refused when there is none (any engine)."""
    if first is None:
        raise ProblemError("Table 'transactions' is empty: there is no history to learn from. Check the data source.")
    return pd.Timestamp(first)


def build_training_set(dataset: Dataset, as_of: pd.Timestamp, config: Config) -> TrainingSet:
    """Features and labels over the training cutoffs, split out of time.

    Parameters
    ----------
    dataset : Dataset
    as_of : pandas.Timestamp
        Labels use data before this date only.
    config : Config

    Returns
    -------
    TrainingSet

    Raises
    ------
    ProblemError
        Too few cutoffs fit, ``as_of`` lies after the data's end, or a validation/test cutoff
        has nobody in its population.

    Example
    -------
    >>> ts = build_training_set(ds, pd.Timestamp("2024-07-01"), Config())   # doctest: +SKIP
    >>> ts.split("test").churned.mean()                                     # doctest: +SKIP
    """
    as_of = pd.Timestamp(as_of)
    first = data_start(dataset)
    cutoffs = checked_training_cutoffs(as_of, config, first, dataset.data_end)
    seasons = season_cutoffs(cutoffs, as_of, config, data_start=first)
    return assemble_training_set(build_features(dataset, [*cutoffs, *seasons], config), build_labels(dataset, cutoffs, config),
                                 feature_specs(dataset), cutoffs, as_of, config, lambda: _population_hint(dataset, config),
                                 data_start=first, seasons=seasons)


def checked_training_cutoffs(
    as_of: pd.Timestamp, config: Config, first: pd.Timestamp, data_end: pd.Timestamp | None
) -> list[pd.Timestamp]:
    """:func:`training_cutoffs`, after refusing an ``as_of`` past the data's end (any engine).

    Raises
    ------
    ProblemError
        ``as_of`` lies more than :data:`LABEL_END_TOLERANCE` after ``data_end``, or too few cutoffs fit.
    """
    as_of = pd.Timestamp(as_of)
    refuse_as_of_after_data(as_of, data_end, LABELS_AFTER_DATA, LABEL_END_TOLERANCE)
    return training_cutoffs(as_of, config, first)


SCORING_AFTER_DATA = ("the features would read the days without data as days without purchases, so every customer "
                      "would look as if they had stopped buying when the data ends")
"""What scoring past the data's end would get wrong (:func:`refuse_as_of_after_data`)."""

LABELS_AFTER_DATA = "the latest label windows would count missing data as churn"
"""What training past the data's end would get wrong (:func:`checked_training_cutoffs`)."""


def refuse_as_of_after_data(as_of: pd.Timestamp, data_end: pd.Timestamp | None, why: str = SCORING_AFTER_DATA,
                            tolerance: pd.Timedelta = DATA_END_TOLERANCE) -> None:
    """Raise when ``as_of`` lies more than ``tolerance`` (:data:`DATA_END_TOLERANCE` for scoring,
    :data:`LABEL_END_TOLERANCE` for labels) after the data's end, or after tomorrow (UTC), whatever
    the data's end: an ``[input] data_end`` a year ahead let a monthly job score as of a month from
    now, with every customer a month without purchases. Tomorrow sees the events up to today, as
    ``POST /score_history`` allows.

    ``why`` says what would go wrong (by default, for features to score: every customer would look
    as if they had stopped buying on the day the data ends).

    Raises
    ------
    ProblemError
    """
    if data_end is not None and pd.Timestamp(as_of) > pd.Timestamp(data_end) + tolerance:
        raise ProblemError(
            f"As-of date {pd.Timestamp(as_of):%Y-%m-%d} is after the data's end ({pd.Timestamp(data_end):%Y-%m-%d}): "
            f"{why}. Use an as-of date on or before {pd.Timestamp(data_end) + tolerance:%Y-%m-%d}, "
            "or load newer data. If the data is complete to a later day (members billed on the 1st, nothing "
            "since), say so with [input] data_end = \"YYYY-MM-DD\" in the config."
        )
    refuse_future_as_of(as_of, why)


def as_of_with_time(text: str) -> str | None:
    """What to say of an as-of date given as an ISO 8601 date and time (``--as-of``, the API's
    ``as_of``), after the value itself; None for any other text. The day it names is the UTC one, as the
    data's times are read (with an offset, converted to UTC; without one, as written): as of D the
    features see the events before D's midnight UTC.

    >>> as_of_with_time("2025-12-01T00:00:00Z")
    'is a date and time; the as-of date is a date alone, YYYY-MM-DD (here 2025-12-01): the scores see the events before its start, midnight UTC.'
    >>> as_of_with_time("2026-01-01T00:00:00+05:00")[:40]
    'is a date and time, 2025-12-31 19:00 UTC'
    >>> as_of_with_time("2025-12-01") is None, as_of_with_time("soon") is None
    (True, True)
    """
    import re
    from datetime import datetime, timedelta, timezone

    text = text.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ].+", text):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    alone = "the as-of date is a date alone, YYYY-MM-DD"
    try:
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        later = moment.date() + timedelta(days=1)
    except OverflowError:  # year 1 or 9999 pushed past the calendar's end
        return f"is a date and time, outside the years 1900-2199; {alone}. Check the year."
    day = moment.date()
    if moment == datetime(day.year, day.month, day.day):
        return f"is a date and time; {alone} (here {day}): the scores see the events before its start, midnight UTC."
    return (f"is a date and time, {moment:%Y-%m-%d %H:%M} UTC; {alone}, and the scores see the events before its "
            f"midnight UTC, as the data's times are read in UTC: {day} sees those before {day} 00:00 UTC, {later} "
            f"those before {later} 00:00 UTC.")


def refuse_future_as_of(as_of: pd.Timestamp, why: str = SCORING_AFTER_DATA) -> None:
    """Raise when ``as_of`` lies after tomorrow (UTC): no data can cover the days still to come.
    Needs no data, so the commands taking ``--as-of`` check it before reading any: a year typed
    wrong in a batch job used to be refused only after the whole load (40 s at 1 M customers).
    ``why`` as for :func:`refuse_as_of_after_data`.

    Raises
    ------
    ProblemError
    """
    from datetime import datetime, timezone

    today = pd.Timestamp(datetime.now(timezone.utc).date())
    if pd.Timestamp(as_of) > today + pd.Timedelta(days=1):
        raise ProblemError(
            f"As-of date {pd.Timestamp(as_of):%Y-%m-%d} is in the future (today is {today:%Y-%m-%d}, UTC): "
            f"{why.replace('when the data ends', 'from today')}, and no data can cover the days still to come. "
            f"Use an as-of date up to {today + pd.Timedelta(days=1):%Y-%m-%d} (tomorrow: the events up to today). "
            "If [input] data_end in the config is later than today, correct it."
        )


def refuse_scoring_as_of(as_of: pd.Timestamp, data_start: pd.Timestamp | None, data_end: pd.Timestamp | None) -> None:
    """Raise when ``as_of`` cannot be scored: more than :data:`DATA_END_TOLERANCE` after the data's
    end (:func:`refuse_as_of_after_data`), or not after the first transaction (``data_start``), when
    nobody has a history to score from. Every scoring path (DuckDB, Spark) checks through here.

    Raises
    ------
    ProblemError
    """
    refuse_as_of_after_data(as_of, data_end)
    if data_start is not None and pd.Timestamp(as_of) <= pd.Timestamp(data_start):
        raise ProblemError(
            f"As-of date {pd.Timestamp(as_of):%Y-%m-%d} is not after the first transaction "
            f"({pd.Timestamp(data_start):%Y-%m-%d}): no customer has any history before it, so every score would be "
            "a guess. Use a later as-of date."
        )


def first_training_cutoff(metadata: Mapping[str, Any]) -> pd.Timestamp | None:
    """The earliest as-of date the models can score: their first training cutoff (the earliest of
    every split of the run's ``cutoffs``), before which they learned nothing of how customers behave.
    When the value model comes from another run (``value_run``, :func:`churnml.tracking.load_models`),
    the later of the two models' first cutoffs. None for models that do not record their cutoffs."""
    firsts = [first for cutoffs in (metadata.get("cutoffs"), (metadata.get("value_run") or {}).get("cutoffs"))
              if (first := _first_cutoff(cutoffs)) is not None]
    return max(firsts) if firsts else None


def _first_cutoff(cutoffs: Any) -> pd.Timestamp | None:
    dates = [c for split in cutoffs.values() for c in split] if isinstance(cutoffs, Mapping) else []
    return min(pd.Timestamp(c) for c in dates) if dates else None


def refuse_as_of_before_training(as_of: pd.Timestamp, metadata: Mapping[str, Any], name: str = "--as-of",
                                 instead: str = "or, for a backfill of an earlier date, train models as of it and "
                                                "score with their version (--alias VERSION)",
                                 as_field: bool = False) -> None:
    """Raise when ``as_of`` lies before the models' :func:`first_training_cutoff`: scores as of 1990
    came from models that learned from customers as of 2025, numbers with nothing behind them, for
    what is a caller's mistake (a wrong year, a date column mapped wrong). `churnml score` (both
    engines, before any data is read), the library's scoring (:func:`churnml.scoring.refuse_as_of_before_models`)
    and ``POST /score_history`` check through here. ``name`` is the date's name for the caller
    (``--as-of``, ``as_of``); ``instead`` ends the message; ``as_field`` names it as the HTTP API
    names a field, first and followed by a colon (``as_of: 1990-01-01 is before …``).

    Raises
    ------
    ConfigError
    """
    first = first_training_cutoff(metadata)
    if first is not None and pd.Timestamp(as_of) < first:
        named = f"{name}:" if as_field else name
        raise ConfigError(
            f"{named} {pd.Timestamp(as_of):%Y-%m-%d} is before the models' training data: they learned how customers "
            f"behave from their first training cutoff, {first:%Y-%m-%d}, on, and know nothing of earlier dates. Use an "
            f"{name} from {first:%Y-%m-%d} on, {instead}."
        )


def assemble_training_set(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    specs: Sequence[FeatureSpec],
    cutoffs: Sequence[pd.Timestamp],
    as_of: pd.Timestamp,
    config: Config,
    population_hint: Callable[[], str] = lambda: "",
    data_start: pd.Timestamp | None = None,
    seasons: Sequence[pd.Timestamp] | None = None,
) -> TrainingSet:
    """Join features and labels and split them out of time: the last step of any engine.

    Parameters
    ----------
    features, labels : pandas.DataFrame
        From :func:`churnml.features.build_features` and :func:`build_labels` (or their Spark
        counterparts in ``churnml.spark``) over ``cutoffs``; ``features`` also over ``seasons``.
    specs : sequence of FeatureSpec
    cutoffs : sequence of pandas.Timestamp
        Oldest first (:func:`training_cutoffs`).
    as_of : pandas.Timestamp
    config : Config
    population_hint : callable
        Returns what to check when a split is empty (called only then).
    data_start : pandas.Timestamp, optional
        The first transaction, kept for :meth:`TrainingSet.history_days`.
    seasons : sequence of pandas.Timestamp, optional
        The :func:`season_cutoffs`: their feature rows become :attr:`TrainingSet.season_frame`
        (no season frame without them).

    Returns
    -------
    TrainingSet

    Raises
    ------
    ProblemError
        When a split has nobody in its population.
    """
    problem = config.problem
    cutoffs = list(cutoffs)
    n_test, n_val = problem.n_test_cutoffs, problem.n_validation_cutoffs
    split_cutoffs = {
        "train": cutoffs[: len(cutoffs) - n_test - n_val],
        "validation": cutoffs[len(cutoffs) - n_test - n_val: len(cutoffs) - n_test],
        "test": cutoffs[len(cutoffs) - n_test:],
    }
    specs = list(specs)
    frame = features.merge(labels, on=["customer_id", "cutoff"], how="inner", validate="one_to_one")
    split_of = {c: name for name, cs in split_cutoffs.items() for c in cs}
    # A column joined, not inserted: with hundreds of attributes pandas warned on the insert
    # that the frame was fragmented.
    frame = pd.concat([frame, frame["cutoff"].map(split_of).astype(str).rename("split")], axis=1)
    for name in SPLITS:
        if not (frame["split"] == name).any():
            dates = ", ".join(f"{c:%Y-%m-%d}" for c in split_cutoffs[name])
            raise ProblemError(
                f"No customers in the population at the {name} cutoff(s) {dates} (as-of {pd.Timestamp(as_of):%Y-%m-%d}). "
                + population_hint()
            )
    # Reasons quote satisfaction on the survey's scale; the models record these specs.
    specs = on_survey_scale(specs, config.input.satisfaction_scale)
    return TrainingSet(
        frame=frame.reset_index(drop=True),
        feature_names=[s.name for s in specs],
        categorical_features=[s.name for s in specs if s.kind == "categorical"],
        cutoffs=cutoffs,
        specs=specs,
        split_cutoffs=split_cutoffs,
        data_start=None if data_start is None else pd.Timestamp(data_start),
        season_frame=None if seasons is None else features[features["cutoff"].isin(list(seasons))].reset_index(drop=True),
    )


def build_scoring_frame(dataset: Dataset, as_of: pd.Timestamp, config: Config) -> pd.DataFrame:
    """Features for the population at ``as_of`` (no labels): what scoring feeds the models.

    Raises
    ------
    ProblemError
        When nobody is in the population at ``as_of``, ``as_of`` lies more than
        :data:`DATA_END_TOLERANCE` after the data's end, or no transaction lies before it.

    Example
    -------
    >>> frame = build_scoring_frame(ds, pd.Timestamp("2024-07-01"), Config())   # doctest: +SKIP
    """
    as_of = pd.Timestamp(as_of)
    refuse_scoring_as_of(as_of, dataset.con.execute("SELECT MIN(timestamp) FROM transactions").fetchone()[0], dataset.data_end)
    frame = build_features(dataset, [as_of], config)
    if frame.empty:
        raise ProblemError(f"No customers in the population at {as_of:%Y-%m-%d}. " + _population_hint(dataset, config))
    return frame


def _population_hint(dataset: Dataset, config: Config) -> str:
    """What to check when a population is empty, with the data's date range."""
    first, last = dataset.con.execute("SELECT MIN(timestamp), MAX(timestamp) FROM transactions").fetchone()
    span = f"transactions run from {pd.Timestamp(first):%Y-%m-%d} to {pd.Timestamp(last):%Y-%m-%d}" if first else "there are no transactions"
    if dataset.has("churn_events"):
        rule = "the population is customers who signed up before the date and have no churn event before it"
        customers, closed, last_closure = dataset.con.execute(
            "SELECT count(*), count(ce.customer_id), max(ce.first_ts) FROM customers AS c LEFT JOIN "
            "(SELECT customer_id, min(timestamp) AS first_ts FROM churn_events GROUP BY 1) AS ce USING (customer_id)"
        ).fetchone()
        if customers and closed >= 0.95 * customers:
            # Every customer closed: "before the first transaction or long after the last?" sent
            # the user to the dates when the churn_events table was the cause.
            return (f"{closed:,} of {customers:,} customers have a churn event (the last one {pd.Timestamp(last_closure):%Y-%m-%d}), "
                    "and a customer with a churn event before the date is not in the population. Is "
                    f"{named_table(config, 'churn_events')} a table of closures only (not every customer's status)? "
                    f"({rule}; {span}.)")
    else:
        rule = (f"the population is customers who signed up before the date and made a transaction "
                f"in the {config.problem.active_days} days before it")
    return f"Is the date before the first transaction or long after the last? ({rule}; {span}.)"


def _key_types(frame: pd.DataFrame) -> pd.DataFrame:
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["cutoff"] = pd.to_datetime(frame["cutoff"])
    return frame
