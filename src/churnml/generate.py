"""Synthetic history of a retail securities brokerage, with churn caused by what the data shows.

:func:`generate` writes the four contract tables (``customers``, ``transactions``,
``service_events``, ``churn_events``) into a folder. Amounts are the firm's revenue per trade
(commissions and fees), so they are heavy-tailed, seasonal, and occasionally negative (refunds).

How churn happens
-----------------
Each customer is simulated month by month (vectorised over a chunk of customers). A latent
engagement level drifts as an AR(1) process and scales the trading rate. Every month a churn hazard
(logistic) is evaluated from things the data shows:

- falling engagement (fewer trades),
- an unresolved complaint in the last three or so months (a resolved one counts a little);
  such escalated complaints are resolved one to five months after they were made,
- a low satisfaction score (1–2) in the last six months, and latent dissatisfaction,
- the account manager leaving in the last three or so months (an ``account_manager_change`` event),
- short tenure, product tier (basic churns most, premium least), acquisition channel, age band,
- plus a per-customer frailty and noise.

A customer who decides to leave winds down over zero to two months (trading falls to a half, a
quarter, a tenth; calls to the service desk rise), then either closes the account (a
``churn_events`` row) or lapses silently. Either way there is no activity after the exit.

Reproducibility
---------------
Chunk ``k`` draws from ``SeedSequence(seed, spawn_key=(1, k))``; account-manager departures (shared
by all chunks) from ``SeedSequence(seed, spawn_key=(0,))``. The same arguments therefore give
byte-identical files; a different ``chunk_size`` gives a different (equally valid) sample.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from churnml.errors import ConfigError
from churnml.io import TableWriter, check_format

__all__ = ["generate", "check_output", "TABLE_NAMES"]

TABLE_NAMES = ("customers", "transactions", "service_events", "churn_events")
"""The files :func:`generate` writes, in order."""

_DAY = 86_400
_MONTH = 30.44 * _DAY

TIERS = ("basic", "plus", "premium")
REGIONS = ("northeast", "southeast", "midwest", "southwest", "west")
ACQUISITION_CHANNELS = ("organic", "referral", "paid_search", "social", "partner", "branch")
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
CATEGORIES = ("equities", "etf", "options", "bonds", "funds")
TX_CHANNELS = ("web", "app", "phone", "branch")
EVENT_TYPES = ("complaint", "ticket", "call", "survey", "account_manager_change")
ESCALATED_DAYS = (30, 150)
"""An escalated complaint is resolved this many days after it was made (uniform)."""
SERVICE_CHANNELS = ("phone", "email", "chat", "branch", "app")


@dataclass(frozen=True)
class _Params:
    """Knobs of the simulation (rates per month, logit coefficients of the churn hazard)."""

    tier_p: tuple[float, ...] = (0.6, 0.3, 0.1)
    region_p: tuple[float, ...] = (0.22, 0.2, 0.2, 0.16, 0.22)
    acq_p: tuple[float, ...] = (0.35, 0.15, 0.2, 0.12, 0.1, 0.08)
    age_p: tuple[float, ...] = (0.1, 0.24, 0.22, 0.18, 0.14, 0.12)
    existing_share: float = 0.25  # customers who signed up before `start` (the book at data start)
    existing_years: float = 3.0
    # trading: gamma rate per month, mean by tier
    rate_shape: float = 2.5
    rate_mean: tuple[float, ...] = (2.0, 3.5, 6.0)
    season: tuple[float, ...] = (1.35, 1.05, 1.25, 1.05, 0.95, 0.85, 0.75, 0.72, 0.95, 1.05, 1.0, 0.9)
    eng_rho: float = 0.8
    eng_sd: float = 0.25
    # revenue per trade (lognormal), by tier; fee factor by category
    log_fee: tuple[float, ...] = (np.log(6.0), np.log(11.0), np.log(24.0))
    log_fee_customer_sd: float = 0.6
    log_fee_trade_sd: float = 0.9
    category_fee: tuple[float, ...] = (1.0, 0.7, 1.8, 1.3, 1.1)
    refund_p: float = 0.03
    # service
    complaint_rate: float = 0.035
    unresolved_p: tuple[float, ...] = (0.32, 0.22, 0.12)
    ticket_rate: float = 0.12
    call_rate: float = 0.15
    survey_rate: float = 0.1
    sat_mean: float = 3.7
    sat_sd: float = 0.7
    am_depart_p: float = 0.02
    # churn hazard (logit)
    h_base: float = -3.8
    h_tier: tuple[float, ...] = (0.45, 0.0, -0.55)
    h_acq: tuple[float, ...] = (0.0, -0.2, 0.25, 0.35, 0.1, -0.1)
    h_age: tuple[float, ...] = (0.35, 0.15, 0.0, -0.05, -0.1, -0.2)
    h_frailty_sd: float = 0.5
    h_engagement: float = -1.0
    h_new: float = 1.0  # × exp(-tenure_months / 6)
    h_unresolved: float = 2.3
    h_complaint: float = 0.3
    h_low_sat: float = 1.5
    h_latent_sat: float = 0.35
    h_am_change: float = 1.8
    wind_down: tuple[float, ...] = (0.5, 0.25, 0.1)
    close_p: tuple[float, ...] = (0.7, 0.8, 0.9)


_P = _Params()

ProgressFn = Callable[[int, int], None]


def _to_day(value: str | pd.Timestamp, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ConfigError(f"The {name} date {value!r} is not a date. Use the form YYYY-MM-DD.") from None
    if ts is pd.NaT or pd.isna(ts):
        raise ConfigError(f"The {name} date {value!r} is not a date. Use the form YYYY-MM-DD.")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.normalize()


def _secs(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000_000)


@dataclass(frozen=True)
class _Calendar:
    """Month grid in seconds since the epoch: month ``m`` covers ``[lo[m], hi[m])``."""

    start: int
    end_excl: int
    lo: np.ndarray
    hi: np.ndarray
    season: np.ndarray

    @property
    def months(self) -> int:
        return len(self.lo)


def _calendar(start: pd.Timestamp, end: pd.Timestamp) -> _Calendar:
    end_excl = end + pd.Timedelta(days=1)
    firsts = pd.date_range(start.replace(day=1), end, freq="MS")
    lo = np.array([max(_secs(f), _secs(start)) for f in firsts], dtype=np.int64)
    nexts = [f + pd.offsets.MonthBegin(1) for f in firsts]
    hi = np.array([min(_secs(n), _secs(end_excl)) for n in nexts], dtype=np.int64)
    season = np.array([_P.season[f.month - 1] for f in firsts])
    return _Calendar(_secs(start), _secs(end_excl), lo, hi, season)


@dataclass(frozen=True)
class _AccountManagers:
    """Account-manager slots shared by all chunks: who holds each slot, and when holders leave."""

    slots: int
    departs: np.ndarray  # bool (slots, months): the holder leaves during the month
    depart_frac: np.ndarray  # where in the month (0..1)
    holder: np.ndarray  # int (slots, months): holder number after this month's departure
    quality: np.ndarray  # float (slots, months + 1): service quality of holder r


def _account_managers(customers: int, months: int, seed: int) -> _AccountManagers:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0,)))
    slots = int(np.clip(round(2 * np.sqrt(customers)), 10, 400))
    departs = rng.random((slots, months)) < _P.am_depart_p
    depart_frac = rng.random((slots, months))
    holder = np.cumsum(departs, axis=1)
    quality = rng.normal(0.0, 0.35, (slots, months + 1))
    return _AccountManagers(slots, departs, depart_frac, holder, quality)


def _pick(rng: np.random.Generator, p: tuple[float, ...] | np.ndarray, size: int) -> np.ndarray:
    """Category codes (int8) drawn with probabilities ``p``."""
    cum = np.cumsum(p)
    cum /= cum[-1]
    return np.searchsorted(cum, rng.random(size), side="right").astype(np.int8)


def _labels(codes: np.ndarray, names: tuple[str, ...]) -> pd.Series:
    """Codes -> a pandas string column, built in Arrow (no Python loop)."""
    return pa.array(names).take(pa.array(codes)).to_pandas()


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pd.Series:
    """``prefix`` + zero-padded ``numbers`` (e.g. C0000001), built in Arrow."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "").to_pandas()


def _times(seconds: np.ndarray) -> np.ndarray:
    return seconds.astype("datetime64[s]").astype("datetime64[us]")


def _place(
    rng: np.random.Generator,
    lo: np.ndarray,
    hi: np.ndarray,
    day_from: float,
    day_to: float,
    weekdays_only: bool,
) -> np.ndarray:
    """Random instants in ``[lo, hi)``: a random day, a time of day in ``[day_from, day_to)`` hours.

    Falls back to a uniform instant when the adjusted time would leave the interval.
    """
    raw = lo + (rng.random(len(lo)) * (hi - lo)).astype(np.int64)
    day = raw // _DAY
    if weekdays_only:
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        day = day - np.maximum(weekday - 4, 0)
    tod = ((day_from + rng.random(len(lo)) * (day_to - day_from)) * 3600).astype(np.int64)
    placed = day * _DAY + tod
    ok = (placed >= lo) & (placed < hi)
    return np.where(ok, placed, raw)


class _Events:
    """Service events collected month by month: customer index, month, type, extra value."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, int, int, np.ndarray]] = []

    def add(self, idx: np.ndarray, month: int, kind: int, extra: np.ndarray | None = None) -> None:
        if len(idx):
            self.parts.append((idx, month, kind, np.zeros(len(idx)) if extra is None else extra))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if not self.parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty.astype(np.int8), np.zeros(0)
        idx = np.concatenate([p[0] for p in self.parts]).astype(np.int64)
        month = np.concatenate([np.full(len(p[0]), p[1], dtype=np.int64) for p in self.parts])
        kind = np.concatenate([np.full(len(p[0]), p[2], dtype=np.int8) for p in self.parts])
        extra = np.concatenate([p[3] for p in self.parts])
        return idx, month, kind, extra


def _chunk(
    rng: np.random.Generator,
    first: int,
    n: int,
    cal: _Calendar,
    ams: _AccountManagers,
    tx_offset: int,
) -> dict[str, pd.DataFrame]:
    """Simulate customers ``first .. first + n - 1``; return the four tables for them."""
    P = _P
    M = cal.months
    big = np.iinfo(np.int64).max

    # --- who the customers are ------------------------------------------------------------
    tier = _pick(rng, P.tier_p, n)
    region = _pick(rng, P.region_p, n)
    acq = _pick(rng, P.acq_p, n)
    age = _pick(rng, P.age_p, n)
    slot = rng.integers(0, ams.slots, n)

    existing = rng.random(n) < P.existing_share
    book_from = cal.start - int(P.existing_years * 365 * _DAY)
    new_span = max(cal.end_excl - 14 * _DAY - cal.start, _DAY)
    signup = np.where(
        existing,
        book_from + (rng.random(n) * (cal.start - book_from)).astype(np.int64),
        cal.start + (rng.power(1.4, n) * new_span).astype(np.int64),  # growing intake
    )
    signup = signup // _DAY * _DAY

    rate = rng.gamma(P.rate_shape, 1.0, n) * np.asarray(P.rate_mean)[tier] / P.rate_shape
    log_fee = np.asarray(P.log_fee)[tier] + rng.normal(0, P.log_fee_customer_sd, n)
    sat_latent = rng.normal(P.sat_mean, P.sat_sd, n)
    complaint_rate = P.complaint_rate * np.exp(rng.normal(0, 0.6, n)) * np.where(tier == 0, 1.4, 1.0)
    static_logit = (
        P.h_base
        + np.asarray(P.h_tier)[tier]
        + np.asarray(P.h_acq)[acq]
        + np.asarray(P.h_age)[age]
        + rng.normal(0, P.h_frailty_sd, n)
        + P.h_latent_sat * (P.sat_mean - sat_latent)
    )
    unresolved_p = np.asarray(P.unresolved_p)[tier]
    close_p = np.asarray(P.close_p)[tier]

    # --- month by month -------------------------------------------------------------------
    eng = rng.normal(0, P.eng_sd / np.sqrt(1 - P.eng_rho**2), n)
    alive = np.ones(n, dtype=bool)
    leave_month = np.full(n, -1, dtype=np.int64)  # month of exit once decided
    decided_at = np.full(n, -1, dtype=np.int64)
    exit_t = np.full(n, big, dtype=np.int64)
    closed = np.zeros(n, dtype=bool)
    far = 10_000
    since_unresolved = np.full(n, far)
    since_complaint = np.full(n, far)
    since_low_sat = np.full(n, far)
    since_am = np.full(n, far)
    tx_counts = np.zeros((n, M), dtype=np.int32)
    events = _Events()
    am_time = np.zeros(0, dtype=np.int64)
    am_parts: list[np.ndarray] = []

    for m in range(M):
        mlo, mhi = cal.lo[m], cal.hi[m]
        present = alive & (signup < mhi)
        eng = P.eng_rho * eng + rng.normal(0, P.eng_sd, n)

        # churn decision, for customers here before this month and not already leaving
        at_risk = present & (signup < mlo) & (leave_month < 0)
        tenure = (mlo - signup) / _MONTH
        logit = (
            static_logit
            + P.h_engagement * eng
            + P.h_new * np.exp(-np.maximum(tenure, 0) / 6)
            + P.h_unresolved * (since_unresolved < 4)
            + P.h_complaint * (since_complaint < 3)
            + P.h_low_sat * (since_low_sat < 6)
            + P.h_am_change * (since_am < 4)
        )
        decide = at_risk & (rng.random(n) < 1 / (1 + np.exp(-logit)))
        lead = _pick(rng, (0.3, 0.4, 0.3), n)
        leave_month = np.where(decide, m + lead, leave_month)
        decided_at = np.where(decide, m, decided_at)

        lo = np.maximum(signup, mlo)
        exiting = present & (leave_month == m)
        ex = np.flatnonzero(exiting)
        exit_t[ex] = lo[ex] + (rng.random(len(ex)) * (mhi - lo[ex])).astype(np.int64)
        closed[ex] = rng.random(len(ex)) < close_p[ex]
        hi = np.minimum(exit_t, mhi)
        frac = np.where(present, np.maximum(hi - lo, 0) / (cal.hi[m] - cal.lo[m]), 0.0)
        frac *= (cal.hi[m] - cal.lo[m]) / _MONTH  # partial first/last month of the data

        leaving = present & (decided_at >= 0)
        wind = np.where(leaving, np.asarray(P.wind_down)[np.clip(m - decided_at, 0, 2)], 1.0)
        tx_counts[:, m] = rng.poisson(rate * np.exp(eng) * cal.season[m] * wind * frac)

        # service events this month
        n_compl = rng.poisson(complaint_rate * frac)
        c_idx = np.repeat(np.arange(n), n_compl)
        c_unres = rng.random(len(c_idx)) < unresolved_p[c_idx]
        events.add(c_idx, m, 0, c_unres.astype(float))
        events.add(np.repeat(np.arange(n), rng.poisson(P.ticket_rate * frac)), m, 1)
        call_rate = P.call_rate * frac * np.where(leaving, 3.0, 1.0)
        events.add(np.repeat(np.arange(n), rng.poisson(call_rate)), m, 2)
        s_idx = np.flatnonzero(rng.random(n) < 1 - np.exp(-P.survey_rate * frac))
        am_q = ams.quality[slot[s_idx], ams.holder[slot[s_idx], m]]
        score = (
            sat_latent[s_idx]
            + am_q
            + rng.normal(0, 0.8, len(s_idx))
            - 1.2 * (since_unresolved[s_idx] < 3)
            - 0.5 * (since_am[s_idx] < 3)
            - 0.6 * leaving[s_idx]
        )
        score = np.clip(np.rint(score), 1, 5)
        events.add(s_idx, m, 3, score)

        # account manager leaves: every present customer of the slot hears about it
        t_am = mlo + (ams.depart_frac[slot, m] * (mhi - mlo)).astype(np.int64)
        got_am = present & ams.departs[slot, m] & (t_am >= lo) & (t_am < hi)
        a_idx = np.flatnonzero(got_am)
        events.add(a_idx, m, 4)
        am_parts.append(t_am[a_idx])

        # what the next months remember
        had_unres = np.zeros(n, dtype=bool)
        had_unres[c_idx[c_unres]] = True
        since_unresolved = np.where(had_unres, 0, since_unresolved + 1)
        since_complaint = np.where(n_compl > 0, 0, since_complaint + 1)
        low = np.zeros(n, dtype=bool)
        low[s_idx[score <= 2]] = True
        since_low_sat = np.where(low, 0, since_low_sat + 1)
        since_am = np.where(got_am, 0, since_am + 1)
        alive &= ~exiting

    am_time = np.concatenate(am_parts) if am_parts else am_time
    last_month = np.where(exit_t < big, np.searchsorted(cal.hi, exit_t, side="right"), M - 1)
    last_month = np.minimum(last_month, M - 1)
    holder = ams.holder[slot, last_month]

    ids = _ids("C", np.arange(first + 1, first + n + 1), 7)
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": _times(signup),
            "region": _labels(region, REGIONS),
            "product_tier": _labels(tier, TIERS),
            "acquisition_channel": _labels(acq, ACQUISITION_CHANNELS),
            "age_band": _labels(age, AGE_BANDS),
            "account_manager": _ids("AM", holder * ams.slots + slot + 1, 3),
        }
    )

    transactions = _transactions(rng, tx_counts, signup, exit_t, cal, tier, age, log_fee, ids, tx_offset)
    service = _service_events(rng, events, am_time, signup, exit_t, cal, ids)
    ch = np.flatnonzero(closed)
    churn = pd.DataFrame({"customer_id": ids.iloc[ch].reset_index(drop=True), "timestamp": _times(exit_t[ch])})
    return {"customers": customers, "transactions": transactions, "service_events": service, "churn_events": churn}


def _transactions(
    rng: np.random.Generator,
    counts: np.ndarray,
    signup: np.ndarray,
    exit_t: np.ndarray,
    cal: _Calendar,
    tier: np.ndarray,
    age: np.ndarray,
    log_fee: np.ndarray,
    ids: pd.Series,
    tx_offset: int,
) -> pd.DataFrame:
    P = _P
    n, M = counts.shape
    cell = np.repeat(np.arange(n * M, dtype=np.int64), counts.ravel())
    cust, month = np.divmod(cell, M)
    del cell
    lo = np.maximum(cal.lo[month], signup[cust])
    hi = np.minimum(cal.hi[month], exit_t[cust])
    ts = _place(rng, lo, hi, 13.5, 21.0, weekdays_only=True)  # US market hours in UTC
    del lo, hi, month
    order = np.lexsort((ts, cust))
    cust, ts = cust[order], ts[order]
    k = len(cust)

    # each customer has a favourite category and channel; tiers and ages lean differently
    cat_p = np.array([[0.5, 0.3, 0.08, 0.04, 0.08], [0.4, 0.25, 0.15, 0.08, 0.12], [0.3, 0.15, 0.2, 0.17, 0.18]])
    fav_cat = np.empty(n, dtype=np.int8)
    for t in range(3):
        sel = np.flatnonzero(tier == t)
        fav_cat[sel] = _pick(rng, cat_p[t], len(sel))
    young = age <= 1
    fav_ch = np.where(young, _pick(rng, (0.25, 0.7, 0.03, 0.02), n), _pick(rng, (0.45, 0.35, 0.12, 0.08), n))
    category = np.where(rng.random(k) < 0.6, fav_cat[cust], _pick(rng, (0.4, 0.25, 0.15, 0.08, 0.12), k))
    channel = np.where(rng.random(k) < 0.75, fav_ch[cust], _pick(rng, (0.4, 0.45, 0.1, 0.05), k))

    options = category == 2
    quantity = np.maximum(
        1, np.rint(np.where(options, rng.lognormal(1.0, 0.8, k), rng.lognormal(3.5, 1.2, k)))
    ).astype(np.int64)
    amount = np.exp(log_fee[cust] + rng.normal(0, P.log_fee_trade_sd, k)) * np.asarray(P.category_fee)[category]
    amount *= np.where(rng.random(k) < P.refund_p, -1.0, 1.0)
    amount = np.round(amount, 2)

    return pd.DataFrame(
        {
            "transaction_id": _ids("T", np.arange(tx_offset + 1, tx_offset + k + 1), 11),
            "customer_id": ids.take(cust).reset_index(drop=True) if k else ids.iloc[:0],
            "timestamp": _times(ts),
            "amount": amount,
            "quantity": quantity,
            "category": _labels(category, CATEGORIES),
            "channel": _labels(channel, TX_CHANNELS),
        }
    )


def _service_events(
    rng: np.random.Generator,
    events: _Events,
    am_time: np.ndarray,
    signup: np.ndarray,
    exit_t: np.ndarray,
    cal: _Calendar,
    ids: pd.Series,
) -> pd.DataFrame:
    idx, month, kind, extra = events.arrays()
    k = len(idx)
    lo = np.maximum(cal.lo[month], signup[idx])
    hi = np.minimum(cal.hi[month], exit_t[idx])
    ts = _place(rng, lo, hi, 12.0, 24.0, weekdays_only=False)
    is_am = kind == 4
    ts[is_am] = am_time  # the department's announcement time, placed in the month loop
    # resolution: complaints take days, tickets a day or two, calls minutes; an escalated
    # complaint (the kind that raises the churn hazard for about three months) stays open for
    # one to five months, and one resolved after the end of the data is still open in it
    mean_hours = np.array([120.0, 40.0, 0.2, 0.0, 0.0])[kind]
    took = (rng.exponential(1.0, k) * mean_hours * 3600).astype(np.int64) + np.where(kind <= 1, 3600, 60)
    took = np.where(kind >= 3, 0, took)
    escalated = (kind == 0) & (extra > 0)
    took = np.where(escalated, rng.integers(ESCALATED_DAYS[0] * _DAY, ESCALATED_DAYS[1] * _DAY, k), took)
    resolved = ts + took
    unresolved = resolved >= cal.end_excl
    channel = np.select(
        [kind == 2, kind == 3, kind == 4],
        [0, _pick(rng, (0, 0.7, 0, 0, 0.3), k), 1],
        _pick(rng, (0.45, 0.25, 0.2, 0.1, 0.0), k),
    ).astype(np.int8)
    satisfaction = np.where(kind == 3, extra, np.nan)

    order = np.lexsort((kind, ts, idx))
    resolved_at = _times(resolved[order])
    resolved_at[unresolved[order]] = np.datetime64("NaT")
    return pd.DataFrame(
        {
            "customer_id": ids.take(idx[order]).reset_index(drop=True) if k else ids.iloc[:0],
            "timestamp": _times(ts[order]),
            "event_type": _labels(kind[order], EVENT_TYPES),
            "resolved_at": resolved_at,
            "satisfaction": satisfaction[order],
            "channel": _labels(channel[order], SERVICE_CHANNELS),
        }
    )


GENERATED_MARK = ".churnml-generated"
"""Written beside the tables by :func:`generate` before the first of them (it says "incomplete" until
the last is in place): a folder with it holds a sample, which a new run may replace; tables without
it may be a user's data, which it never overwrites."""


def _sample_before_the_mark(out: Path) -> bool:
    """Whether ``out`` holds a sample that ``generate`` wrote before it left :data:`GENERATED_MARK`
    (churnml up to d8970fa, so every ``demo_out/data`` of an earlier ``make demo``): its four tables in
    one format and nothing else, ``customers`` with its columns and the ids C0000001, C0000002 … in
    order. A company's own tables differ in one of these, and stay refused."""
    names = {p.name for p in out.iterdir()}
    fmt = next((f for f in ("parquet", "csv") if names == {f"{t}.{f}" for t in TABLE_NAMES}), None)
    if fmt is None:
        return False
    path = out / f"customers.{fmt}"
    try:
        customers = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError):
        return False
    columns = ["customer_id", "signup_date", "region", "product_tier", "acquisition_channel", "age_band", "account_manager"]
    return (list(customers.columns) == columns
            and customers["customer_id"].astype(str).tolist() == [f"C{i:07d}" for i in range(1, len(customers) + 1)])


def check_output(out_dir: str | Path, fmt: str) -> Path:
    """Check that ``out_dir`` can take the tables in ``fmt``; return it as a Path.

    Raises
    ------
    ConfigError
        When ``out_dir`` is a file, ``fmt`` is unknown, the folder holds tables that ``generate``
        did not write (a user's data: see :data:`GENERATED_MARK`), or CSV would be written beside
        Parquet files of the same tables (readers prefer the Parquet ones, so the new data would be ignored).
    """
    fmt = check_format(fmt)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} exists and is not a folder. Pass a folder to write the tables into.")
    theirs = [p.name for t in TABLE_NAMES for p in (out / f"{t}.parquet", out / f"{t}.csv", out / f"{t}.csv.gz", out / t)
              if p.exists()] if not (out / GENERATED_MARK).exists() else []
    if theirs and not _sample_before_the_mark(out):
        raise ConfigError(
            f"{out} already holds {', '.join(theirs)}, which `churnml generate` did not write: generating here would "
            "replace them with synthetic data. Choose a new folder (e.g. sample/), or move them away first. (A sample "
            f"an older churnml generated has no {GENERATED_MARK} file: if these are one, `touch {out / GENERATED_MARK}` "
            "lets generate replace them.)"
        )
    if fmt == "csv":
        shadowing = [f"{t}.parquet" for t in TABLE_NAMES if (out / f"{t}.parquet").exists()]
        if shadowing:
            raise ConfigError(
                f"{out} already holds {', '.join(shadowing)}, which readers prefer over CSV files. "
                "Remove them or write into another folder."
            )
    return out


def generate(
    out_dir: str | Path,
    customers: int,
    seed: int = 0,
    start: str | pd.Timestamp = "2021-01-01",
    end: str | pd.Timestamp = "2025-12-31",
    fmt: str = "parquet",
    chunk_size: int = 100_000,
    progress: ProgressFn | None = None,
) -> dict[str, int]:
    """Write a synthetic brokerage history (the four contract tables) into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write into (created if missing). Writes ``customers``, ``transactions``,
        ``service_events`` and ``churn_events`` with the format's suffix, each atomically.
    customers : int
        Number of customers (at least 1).
    seed : int, default 0
        Random seed (0 or more); the same arguments give identical files.
    start, end : str or pandas.Timestamp
        First and last day of the history (inclusive). Some customers signed up before ``start``
        (the book at the start of the data); activity is simulated only from ``start``.
    fmt : {"parquet", "csv"}
    chunk_size : int, default 100_000
        Customers simulated and written per step; bounds memory. Part of the sample's identity.
    progress : callable, optional
        Called as ``progress(done_customers, total_customers)`` after each chunk.

    Returns
    -------
    dict
        Table name -> rows written.

    Raises
    ------
    ConfigError
        For fewer than one customer, a negative seed, an unparseable date, ``end`` not after
        ``start``, an unknown format, or an output folder that cannot take the files
        (see :func:`check_output`).
    """
    fmt = check_format(fmt)
    if int(customers) < 1:
        raise ConfigError(f"The number of customers must be at least 1 (got {customers}).")
    if int(chunk_size) < 1:
        raise ConfigError(f"chunk_size must be at least 1 (got {chunk_size}).")
    if int(seed) < 0:
        raise ConfigError(f"The seed must be 0 or more (got {seed}).")
    start_ts, end_ts = _to_day(start, "start"), _to_day(end, "end")
    if end_ts <= start_ts:
        raise ConfigError(
            f"The end date {end_ts:%Y-%m-%d} must be after the start date {start_ts:%Y-%m-%d}."
        )
    out = check_output(out_dir, fmt)
    out.mkdir(parents=True, exist_ok=True)
    # The mark goes first: a run stopped while its tables were being put in place (killed, the
    # disk full at the last file) left some of them and no mark, and every rerun refused the
    # folder as a user's data until it was deleted by hand. A failure that leaves no table takes it away again.
    mark = out / GENERATED_MARK
    ours = not mark.exists()
    command = f"churnml generate --customers {int(customers)} --seed {int(seed)}"
    mark.write_text(f"{command} (incomplete: stopped before every table was written)\n", encoding="utf-8")
    try:
        rows = _generate(out, int(customers), int(seed), start_ts, end_ts, fmt, int(chunk_size), progress)
    except BaseException:
        if ours and not any((out / f"{t}.{fmt}").exists() for t in TABLE_NAMES):
            mark.unlink(missing_ok=True)
        raise
    mark.write_text(f"{command}\n", encoding="utf-8")
    return rows


def _generate(out: Path, customers: int, seed: int, start_ts: pd.Timestamp, end_ts: pd.Timestamp, fmt: str,
              chunk_size: int, progress: ProgressFn | None) -> dict[str, int]:
    """:func:`generate`'s tables, written into ``out`` (checked, and marked as a sample)."""
    cal = _calendar(start_ts, end_ts)
    ams = _account_managers(customers, cal.months, seed)
    rows = dict.fromkeys(TABLE_NAMES, 0)
    tx_offset = 0
    starts = range(0, customers, chunk_size)
    with contextlib.ExitStack() as stack:  # an error in any chunk discards every file
        # input tables, read by validation as they are: nothing defused for spreadsheets
        writers = {t: stack.enter_context(TableWriter(out / f"{t}.{fmt}", fmt, defuse=False)) for t in TABLE_NAMES}
        for k, first in enumerate(starts):
            n = min(chunk_size, customers - first)
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, k)))
            tables = _chunk(rng, first, n, cal, ams, tx_offset)
            tx_offset += len(tables["transactions"])
            last = k == len(starts) - 1
            for name, frame in tables.items():
                # skip empty chunks, but make sure every file gets its columns
                if len(frame) or (last and writers[name].rows == 0):
                    writers[name].write(frame)
                rows[name] += len(frame)
            del tables
            if progress is not None:
                progress(first + n, customers)
    return rows
