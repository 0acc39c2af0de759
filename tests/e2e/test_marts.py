"""Health, account roll-up, history, lifecycle and stall alerts on the shared sample run (read-only)."""

from datetime import timedelta

import numpy as np
import pandas as pd

from tests.e2e.conftest import AS_OF

COMPONENTS = [
    "engagement_recency",
    "email_engagement",
    "nps",
    "support",
    "buying_signals",
    "account_team_contact",
    "nps_trend",
    "renewal_proximity",
    "overdue_tickets",
    "stalled_opportunities",
    "key_contact_change",
    "engagement_frequency",
]
LIFECYCLE = ["visitor", "lead", "mql", "sql", "opportunity", "customer", "renewal", "churned"]


def test_every_customer_has_every_component_adding_up_to_the_score(wh):
    health = wh("SELECT * FROM marts.customer_health")
    total = sum(health[f"{c}_contribution"].astype(float) for c in COMPONENTS)
    assert ((50 + total).round(1) == health["health_score"].astype(float).round(1)).all()
    counts = wh("SELECT customer_id, count(*) AS n FROM marts.customer_health_drivers GROUP BY 1")
    assert (counts["n"] == len(COMPONENTS)).all()
    # The new indicators move real customers' scores on the sample.
    assert (health["buying_signals_contribution"] > 0).sum() > 0
    assert (health["account_team_contact_contribution"] != 0).sum() > 0
    for component in ("nps_trend", "renewal_proximity", "overdue_tickets", "stalled_opportunities"):
        assert (health[f"{component}_contribution"] != 0).sum() > 0, component
    assert (health["key_contact_change_contribution"] < 0).sum() > 0


def test_engagement_frequency_counts_engagements_on_every_channel_in_30_days(wh):
    touchpoints = wh(
        "SELECT customer_id, occurred_at, channel FROM marts.fct_touchpoints "
        "WHERE is_engagement AND customer_id IS NOT NULL"
    )
    drivers = (
        wh(
            "SELECT customer_id, component_value FROM marts.customer_health_drivers "
            "WHERE component = 'engagement_frequency'"
        )
        .set_index("customer_id")["component_value"]
        .astype(float)
    )
    start, end = pd.Timestamp(AS_OF - timedelta(days=30)), pd.Timestamp(AS_OF + timedelta(days=1))
    recent = touchpoints[(touchpoints["occurred_at"] >= start) & (touchpoints["occurred_at"] < end)]
    assert recent["channel"].nunique() >= 3, "engagements from several channels should count"
    counts = recent.groupby("customer_id").size()
    engaged = set(touchpoints.loc[touchpoints["occurred_at"] < end, "customer_id"])
    expected = pd.Series(
        {c: (min(1.0, counts.get(c, 0) / 8) if c in engaged else 0.5) for c in drivers.index}
    ).round(4)
    assert (drivers.round(4) == expected[drivers.index]).all()
    assert (expected == 0).sum() > 0 and (expected == 1).sum() > 0 and expected.between(0.01, 0.99).sum() > 0


def test_contact_cadence_alerts_match_an_independent_weekly_count(wh):
    won = wh(
        "SELECT crm_account_id, amount FROM staging.stg_crm__opportunities "
        f"WHERE is_won AND close_date <= DATE '{AS_OF}' "
        f"AND (contract_renewal_date IS NULL OR contract_renewal_date >= DATE '{AS_OF}')"
    )
    values = won.groupby("crm_account_id")["amount"].sum().reset_index()
    values = values.sort_values(["amount", "crm_account_id"], ascending=[False, True])
    core = list(values["crm_account_id"].head(max(1, round(len(values) * 0.2))))
    touches = wh(
        "SELECT a.crm_account_id, a.occurred_at FROM staging.stg_crm__activities AS a "
        "JOIN staging.stg_crm__users AS u ON a.owner_crm_user_id = u.crm_user_id "
        "WHERE a.activity_type IN ('call', 'meeting', 'email') AND u.team IN ('sales', 'success')"
    )
    # AS_OF is a Sunday, so the last full week ends on it.
    weeks_end = pd.Timestamp(AS_OF + timedelta(days=1))

    def fires(weeks: list[int]) -> bool:
        return max(weeks) < 1 or sum(weeks) / 3 < 2

    expected = {}
    for account in core:
        times = touches.loc[touches["crm_account_id"] == account, "occurred_at"]
        weekly = [
            int(
                (
                    (times >= weeks_end - pd.Timedelta(days=7 * k))
                    & (times < weeks_end - pd.Timedelta(days=7 * (k - 1)))
                ).sum()
            )
            for k in (1, 2, 3, 4)
        ]
        if fires(weekly[:3]):
            rule = "below_weekly_minimum" if max(weekly[:3]) < 1 else "below_average_target"
            expected[account] = (weekly[:3], rule, not fires(weekly[1:]))
    alerts = wh("SELECT * FROM marts.account_contact_cadence_alerts").set_index("crm_account_id")
    assert expected, "the sample should hold at least one core account below cadence"
    assert set(alerts.index) == set(expected)
    for account, (weekly, rule, is_new) in expected.items():
        row = alerts.loc[account]
        assert [row.touches_week_1, row.touches_week_2, row.touches_week_3] == weekly
        assert (row.alert_rule, bool(row.is_new)) == (rule, is_new)
        assert float(row.avg_touches_per_week) == round(sum(weekly) / 3, 2)


def test_renewal_proximity_follows_the_won_deals_contract_dates(wh):
    signals = wh(
        "SELECT s.customer_id, s.contract_end_date, s.days_until_contract_end, d.component_value "
        "FROM intermediate.int_customer_health_signals__aggregated AS s "
        "JOIN marts.customer_health_drivers AS d ON d.customer_id = s.customer_id AND d.component = 'renewal_proximity'"
    )
    dated = signals[signals["contract_end_date"].notna()]
    assert len(dated) > 0
    ends = pd.to_datetime(dated["contract_end_date"]).dt.date
    assert (dated["days_until_contract_end"] == [(end - AS_OF).days for end in ends]).all()
    days = dated["days_until_contract_end"]
    expected = (0.5 * (days.clip(30, 120) - 30) / 90).round(4)
    assert (dated["component_value"].astype(float).round(4) == expected).all()
    assert (signals.loc[signals["contract_end_date"].isna(), "component_value"].astype(float) == 0.5).all()


def test_top_drivers_are_the_largest_contributions(wh):
    health = wh("SELECT * FROM marts.customer_health WHERE top_driver_1 IS NOT NULL")
    for row in health.itertuples():
        largest = max(abs(float(getattr(row, f"{c}_contribution"))) for c in COMPONENTS)
        assert abs(float(row.top_driver_1_contribution)) == largest
        assert float(getattr(row, f"{row.top_driver_1}_contribution")) == float(row.top_driver_1_contribution)


def test_history_holds_todays_snapshot_once_per_customer(wh):
    history = wh("SELECT * FROM marts.customer_health_history")
    assert not history.duplicated(["customer_id", "as_of_date"]).any()
    today = history[pd.to_datetime(history["as_of_date"]).dt.date == AS_OF]
    health = wh("SELECT customer_id, health_score FROM marts.customer_health")
    merged = health.merge(today[["customer_id", "health_score"]], on="customer_id", suffixes=("", "_history"))
    assert len(merged) == len(health)
    assert (merged["health_score"] == merged["health_score_history"]).all()


def test_account_health_is_the_weighted_average_of_its_customers(wh):
    accounts = wh("SELECT * FROM marts.account_health")
    members = wh(
        "SELECT m.account_id, h.health_score FROM identity.customer_accounts AS m "
        "JOIN marts.customer_health AS h USING (customer_id)"
    )
    assert accounts["account_id"].is_unique
    assert accounts["customer_count"].sum() == len(members)
    scores = members.groupby("account_id")["health_score"].agg(["min", "max"])
    merged = accounts.merge(scores, left_on="account_id", right_index=True)
    # A weighted average lies between the lowest and highest member score.
    assert (merged["account_health_score"] >= merged["min"].round(1)).all()
    assert (merged["account_health_score"] <= merged["max"].round(1)).all()
    single = merged[merged["customer_count"] == 1]
    assert len(single) > 0
    assert (single["account_health_score"] == single["min"]).all()


def test_stall_alerts_match_an_independent_working_day_count(wh):
    opportunities = wh("SELECT * FROM staging.stg_crm__opportunities WHERE NOT is_closed")
    activities = wh("SELECT crm_account_id, crm_contact_id, occurred_at FROM staging.stg_crm__activities")
    alerts = wh("SELECT * FROM marts.opportunity_stall_alerts").set_index("crm_opportunity_id")
    limits = {"contract_review": 5}
    expected = {}
    for opp in opportunities.itertuples():
        related = activities[
            (
                (activities["crm_account_id"] == opp.crm_account_id)
                | (activities["crm_contact_id"] == opp.primary_crm_contact_id)
            )
            & (activities["occurred_at"] >= opp.stage_entered_at)
            & (activities["occurred_at"].dt.date <= AS_OF)
        ]
        quiet = max([opp.stage_entered_at, *related["occurred_at"]]).date()
        days = int(np.busday_count(quiet + timedelta(days=1), AS_OF + timedelta(days=1)))
        if days > limits.get(opp.stage, 10):
            expected[opp.crm_opportunity_id] = days
    assert expected, "the sample should hold at least one stalled deal"
    assert set(alerts.index) == set(expected)
    for opportunity, days in expected.items():
        assert alerts.loc[opportunity, "working_days_without_activity"] == days
        assert pd.Timestamp(alerts.loc[opportunity, "stalled_on"]) <= pd.Timestamp(AS_OF)


def test_stall_check_ran_and_summary_prints_health_and_alerts(first_run, wh):
    from orchestration.runner import summary

    checks = {e.check_name: e for e in first_run.get_asset_check_evaluations()}
    assert "no_new_stall_alerts" in checks
    data = summary(first_run)
    assert sum(data["health"].values()) > 0
    assert sum(data["account_health"].values()) > 0
    assert set(data["alerts"]) == {
        "customer_health_drop_alerts",
        "opportunity_stall_alerts",
        "customer_stall_alerts",
        "account_contact_cadence_alerts",
    }
    customers = wh("SELECT count(*) AS n FROM marts.dim_customers")["n"][0]
    assert sum(data["lifecycle"].values()) == customers
    assert list(data["lifecycle"]) == [s for s in LIFECYCLE if s in data["lifecycle"]]
    stalls = {(e.asset_key.path[-1], e.check_name) for e in first_run.get_asset_check_evaluations()}
    assert ("customer_stall_alerts", "no_new_stall_alerts") in stalls
    cadence = checks["no_contact_cadence_alerts"]
    alerts = wh("SELECT count(*) AS n FROM marts.account_contact_cadence_alerts")["n"][0]
    new = wh("SELECT count(*) AS n FROM marts.account_contact_cadence_alerts WHERE is_new")["n"][0]
    assert cadence.metadata["open_alerts"].value == alerts > 0
    assert cadence.metadata["new_alerts"].value == new and cadence.passed == (new == 0)
    assert set(data["audiences"]) == {
        "at_risk_customers",
        "high_intent_pricing_visitors",
        "renewal_in_60_days",
        "detractors_to_call",
    }


def test_audience_members_and_exports_all_consented_per_the_raw_consent_log(env, wh, truth, tmp_path):
    from connectors import audiences

    consent = pd.read_csv(env["landing"] / "consent" / "consent_log.csv", dtype="string")
    consent = consent[consent["purpose"] == "email_marketing"].sort_values("recorded_at")
    consent["record_id"] = "consent:" + consent["consent_id"]
    latest = consent.merge(truth[["record_id", "person_id"]], on="record_id").groupby("person_id").last()
    granted = set(latest.index[latest["status"] == "granted"])
    clusters = wh("SELECT record_id, customer_id FROM identity.customer_clusters").merge(
        truth, on="record_id"
    )
    person_of = clusters.groupby("customer_id")["person_id"].agg(lambda s: s.mode()[0])
    sizes = {}
    for definition in audiences.load_audiences():
        frame = wh(f"SELECT * FROM audiences.{definition.name}")
        sizes[definition.name] = len(frame)
        path = tmp_path / f"{definition.name}.csv"
        audiences.export_members(frame, path, "csv", hashed=True)
        exported = pd.read_csv(path)
        assert list(exported["customer_id"]) == list(frame["customer_id"])
        for customer_id in frame["customer_id"]:
            assert person_of[customer_id] in granted, (definition.name, customer_id)
    assert sum(sizes.values()) > 0
    history = wh("SELECT audience, count(*) AS n FROM audiences.audience_membership_history GROUP BY 1")
    assert set(history["audience"]) <= set(sizes)


def test_lifecycle_history_is_ordered_with_one_current_stage_per_customer(wh):
    stages = wh("SELECT * FROM marts.customer_lifecycle_stages ORDER BY customer_id, stage_rank")
    customers = wh("SELECT customer_id FROM marts.dim_customers")
    assert set(stages["customer_id"]) == set(customers["customer_id"])
    assert (stages.groupby("customer_id")["is_current"].sum() == 1).all()
    for _, rows in stages.groupby("customer_id"):
        assert rows["entered_at"].is_monotonic_increasing
        assert list(rows["exited_at"].iloc[:-1]) == list(rows["entered_at"].iloc[1:])
        assert bool(rows["is_current"].iloc[-1])
    assert set(LIFECYCLE[:6]) <= set(stages["stage"]) and "churned" in set(stages["stage"])


def test_lifecycle_customer_stage_starts_when_the_crm_or_the_first_won_deal_says(wh):
    stages = wh(
        "SELECT customer_id, entered_at FROM marts.customer_lifecycle_stages WHERE stage = 'customer'"
    )
    crm = wh(
        "SELECT c.customer_id, min(h.changed_at) AS crm_at FROM staging.stg_crm__contact_history AS h "
        "JOIN intermediate.int_crm_contacts__resolved AS c USING (crm_contact_id) "
        "WHERE h.field_name = 'lifecycle_stage' AND h.new_value = 'customer' GROUP BY 1"
    )
    won = wh(
        "SELECT c.customer_id, min(o.stage_entered_at) AS won_at FROM staging.stg_crm__opportunities AS o "
        "JOIN intermediate.int_crm_contacts__resolved AS c ON c.crm_contact_id = o.primary_crm_contact_id "
        "WHERE o.is_won GROUP BY 1"
    )
    merged = stages.merge(crm, on="customer_id", how="left").merge(won, on="customer_id", how="left")
    expected = merged[["crm_at", "won_at"]].min(axis=1)
    assert len(merged) > 10
    assert (merged["entered_at"] == expected).all()


def test_customer_stall_alerts_are_quiet_current_stages(wh):
    alerts = wh("SELECT * FROM marts.customer_stall_alerts")
    current = wh("SELECT customer_id, stage FROM marts.customer_lifecycle_stages WHERE is_current")
    limits = {"lead": 15, "mql": 5, "sql": 10}
    assert len(alerts) > 0
    merged = alerts.merge(current, on="customer_id", suffixes=("", "_current"))
    assert len(merged) == len(alerts) and (merged["stage"] == merged["stage_current"]).all()
    for alert in alerts.itertuples():
        last = alert.stage_entered_at if pd.isna(alert.last_activity_at) else alert.last_activity_at
        quiet = max(alert.stage_entered_at, last).date()
        days = int(np.busday_count(quiet + timedelta(days=1), AS_OF + timedelta(days=1)))
        assert alert.working_days_without_activity == days > limits[alert.stage]


def test_stage_durations_are_medians_of_the_lifecycle_history(wh):
    durations = wh(
        "SELECT * FROM marts.funnel_stage_durations WHERE dimension = 'first_touch_channel' "
        "AND from_stage = 'lead' AND to_stage = 'mql'"
    )
    history = wh(
        "SELECT j.first_touch_channel, l.days_in_stage FROM marts.customer_lifecycle_stages AS l "
        "JOIN marts.customer_journey AS j USING (customer_id) "
        "WHERE l.stage = 'lead' AND l.next_stage = 'mql' AND j.first_touch_channel IS NOT NULL"
    )
    expected = history.groupby("first_touch_channel")["days_in_stage"].agg(["count", "median"])
    got = durations.set_index("dimension_value")
    assert len(expected) > 0
    for channel, row in expected.iterrows():
        assert got.loc[channel, "customers"] == row["count"]
        assert float(got.loc[channel, "median_days"]) == round(float(row["median"]), 1)
