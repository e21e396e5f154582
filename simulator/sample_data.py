"""`paw generate`: a realistic, deterministic SaaS event stream written to the landing zone.

The story, per simulated person: an anonymous visitor arrives from a referrer or a campaign,
browses pages, perhaps signs up (identify with traits), activates (creates a project), buys
(server-side orders carrying a user id only), upgrades, uses features, joins an organisation
(group), sees experiments, answers NPS, and sooner or later churns. A few people use a second
device; one device is shared by two people; some users carry a legacy id merged by an alias.
Weekends are quieter. A small share of the input is bad on purpose: malformed lines,
placeholder ids, wrong field types, skewed device clocks and redeliveries.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ingestion.storage import Storage
from simulator.landing_files import write_landing_files
from simulator.stream import Device, EventStream, event_context

log = logging.getLogger("paw.generate")

PAGES = ["/", "/pricing", "/features", "/blog", "/docs", "/about", "/customers", "/changelog"]
APP_PAGES = ["/app", "/app/projects", "/app/settings", "/app/reports", "/app/billing"]
REFERRERS = [
    ("https://www.google.com/", None),
    ("https://news.ycombinator.com/", None),
    ("https://twitter.com/", None),
    ("", None),
    ("https://www.google.com/", ("google", "cpc", "brand_search")),
    ("https://www.linkedin.com/", ("linkedin", "social", "launch_week")),
    ("https://newsletter.example.com/", ("newsletter", "email", "monthly_digest")),
]
DEVICES = [
    ("desktop", "Mac OS", "Chrome"),
    ("desktop", "Windows", "Edge"),
    ("desktop", "Linux", "Firefox"),
    ("mobile", "iOS", "Safari"),
    ("mobile", "Android", "Chrome"),
    ("tablet", "iPadOS", "Safari"),
]
FEATURES = ["dashboards", "alerts", "exports", "sql_editor", "sharing", "api_keys"]
EXPERIMENTS = [("new_onboarding", ["control", "checklist"]), ("pricing_page", ["a", "b", "c"])]
# The onboarding checklist truly works: after an exposure, the chance of creating a project in
# that session (seeds/experiments.csv: the goal of new_onboarding). pricing_page has no effect.
ONBOARDING_GOAL_RATES = {"control": 0.06, "checklist": 0.18}
NPS_SCORES = [10, 10, 9, 9, 9, 8, 8, 7, 6, 5, 3, 0]
NPS_COMMENTS = ["love the dashboards", "too slow on big projects", "pricing is confusing", "great"]
# Every this-many-th person is shown every variant (a bug in the assignment): excluded.
MIXED_VARIANT_EVERY = 53
PLANS = [("free", 0.0), ("starter", 29.0), ("pro", 99.0), ("enterprise", 499.0)]
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka"]


@dataclass(frozen=True)
class GenerateOptions:
    users: int = 2000
    days: int = 60
    seed: int = 42
    end_date: date | None = None  # last day of data; default: yesterday (UTC)
    bad_rate: float = 0.005  # share of lines that are bad on purpose
    redelivery_rate: float = 0.01  # share of events delivered twice
    files_per_day: int = 4
    first_user: int = 0  # user numbering starts here (to generate large data in shards)
    file_prefix: str = ""  # prefix of the landing keys written (a shard's folder)
    gzip_share: float = 0.25  # share of files written gzip-compressed


@dataclass
class GenerateReport:
    files: int
    events: int
    bad_lines: int
    redeliveries: int
    start: date
    end: date


class _Simulation:
    def __init__(self, options: GenerateOptions) -> None:
        self.o = options
        self.rng = random.Random(options.seed)
        self.stream = EventStream(self.rng)
        end = options.end_date or (datetime.now(UTC).date() - timedelta(days=1))
        self.end = end
        self.start = end - timedelta(days=options.days - 1)
        self.start_dt = datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)
        self.stream.horizon = self.start_dt + timedelta(days=options.days)
        self.shared_device: Device | None = None
        self.bad_lines = 0
        self.redeliveries = 0
        self.org_owners: dict[str, tuple[str, int]] = {}  # group id -> (first member, first day)

    # --- helpers -------------------------------------------------------------------------
    def device(self) -> Device:
        kind, os_name, browser = self.rng.choice(DEVICES)
        return Device(self.stream.new_id()[:24], kind, os_name, browser)

    def day_start(self, day_index: int) -> datetime:
        return self.start_dt + timedelta(days=day_index)

    def is_active_day(self, day_index: int, rate: float) -> bool:
        weekday = (self.start + timedelta(days=day_index)).weekday()
        factor = 0.6 if weekday >= 5 else 1.0  # weekly seasonality: quieter weekends
        return self.rng.random() < rate * factor

    def session_start(self, day_index: int) -> datetime:
        # Business hours, mostly: a bell around 14:00 UTC.
        hour = min(23.9, max(0.0, self.rng.gauss(14, 3.5)))
        return self.day_start(day_index) + timedelta(hours=hour)

    # --- the story ------------------------------------------------------------------------
    def run(self) -> None:
        for person in range(self.o.first_user, self.o.first_user + self.o.users):
            self.person(person)
        self.metered_usage()
        self.bad_input()

    def metered_usage(self) -> None:
        """The billing system's nightly usage record per organisation (seeds/meters.csv:
        events_ingested): steady within 5%, carrying its groupId, sent as the
        organisation's first member."""
        rng = self.rng
        for group_id, (owner, first_day) in sorted(self.org_owners.items()):
            base = rng.uniform(20_000, 200_000)
            for day in range(first_day, self.o.days):
                quantity = round(base * rng.uniform(0.95, 1.05))
                self.stream.emit(
                    self.day_start(day) + timedelta(hours=23, minutes=50),
                    "track",
                    user_id=owner,
                    event="usage_recorded",
                    namespace="billing",
                    properties={"metric": "events_ingested", "quantity": quantity},
                    extra={"groupId": group_id},
                )

    def person(self, index: int) -> None:
        rng = self.rng
        o = self.o
        first_day = rng.randrange(o.days)
        device = self.device()
        if index == self.o.first_user + 1 and self.shared_device is not None:
            device = self.shared_device  # a shared family laptop: person 0 then person 1
        referrer, campaign = rng.choice(REFERRERS)
        t = self.session_start(first_day)
        # First visit: anonymous browsing.
        for _ in range(rng.randint(1, 5)):
            path = rng.choice(PAGES)
            self.page(t, None, device, path, referrer, campaign)
            t += timedelta(seconds=rng.uniform(5, 240))
        if rng.random() > 0.45:  # did not sign up: maybe a few more anonymous visits
            for day in range(first_day + 1, o.days):
                if self.is_active_day(day, 0.03):
                    self.page(self.session_start(day), None, device, rng.choice(PAGES), "", None)
            return
        user_id = f"user_{index:07d}"
        legacy_id = f"legacy_{index:07d}" if index % 41 == 5 else None
        plan = "free"
        company = rng.choice(COMPANIES)
        if legacy_id is not None:
            # Activity under the old id system, before the migration merged it by an alias.
            self.track(t, legacy_id, device, "logged_in", {"method": "password"})
            t += timedelta(seconds=30)
        self.page(t, None, device, "/signup", referrer, campaign)
        t += timedelta(seconds=rng.uniform(20, 120))
        traits = {
            "email": f"{user_id}@{company.lower()}.example.com",
            "plan": plan,
            "company": company,
            "created_at": t.isoformat(timespec="seconds"),
        }
        self.stream.emit(
            t,
            "identify",
            user_id=user_id,
            anonymous_id=device.anonymous_id,
            traits=traits,
            context=event_context(device, "/signup", referrer, campaign),
        )
        self.track(t + timedelta(seconds=1), user_id, device, "signed_up", {"plan": plan})
        # Onboarding, right after signing up (marts.agg_path_transitions from signed_up): the
        # welcome page, then often a first project, whose id page paths carry
        # (seeds/path_cleaning.csv turns /app/projects/<id> into one node).
        self.page(t + timedelta(seconds=20), user_id, device, "/app/welcome", "", None)
        if rng.random() < 0.6:
            project = f"/app/projects/{rng.randint(1000, 99999)}"
            self.page(t + timedelta(seconds=90), user_id, device, project, "", None)
        if legacy_id is not None:
            self.stream.emit(
                t + timedelta(seconds=2),
                "alias",
                user_id=user_id,
                extra={"previousId": legacy_id},
            )
        if index == self.o.first_user:
            self.shared_device = device
        group_id = f"org_{company.lower()}"
        if group_id not in self.org_owners or first_day < self.org_owners[group_id][1]:
            self.org_owners[group_id] = (user_id, first_day)
        self.stream.emit(
            t + timedelta(seconds=5),
            "group",
            user_id=user_id,
            anonymous_id=device.anonymous_id,
            extra={"groupId": group_id},
            traits={"name": company, "industry": "software"},
        )
        activated = rng.random() < 0.6
        if activated:
            t_act = t + timedelta(minutes=rng.uniform(2, 600))
            self.track(
                t_act,
                user_id,
                device,
                "project_created",
                {"template": rng.choice(["blank", "web_analytics", "saas_metrics"])},
            )
        bought_at: datetime | None = None
        if activated and rng.random() < 0.45:
            bought_at = t + timedelta(hours=rng.uniform(1, 24 * 10))
            plan, price = rng.choice(PLANS[1:])
            self.order(bought_at, user_id, plan, price)
        # Life after signup: return visits until churn.
        lifetime = int(rng.expovariate(1 / 35)) + 1
        second_device = self.device() if rng.random() < 0.2 else None
        last_day = min(o.days - 1, first_day + lifetime)
        experiment, variants = rng.choice(EXPERIMENTS)
        variant = rng.choice(variants)
        shown = variants if index % MIXED_VARIANT_EVERY == 3 else [variant]
        engagement = rng.uniform(0.15, 0.7)
        for day in range(first_day + 1, last_day + 1):
            if not self.is_active_day(day, engagement):
                continue
            dev = second_device if second_device and rng.random() < 0.3 else device
            self.app_session(day, user_id, dev, plan, experiment, shown)
            if bought_at is not None and rng.random() < 0.04:
                when = self.session_start(day)
                plan, price = rng.choice(PLANS[1:])
                self.order(when, user_id, plan, price)
            if plan != "enterprise" and rng.random() < 0.01:
                when = self.session_start(day)
                new_plan = PLANS[min(len(PLANS) - 1, [p for p, _ in PLANS].index(plan) + 1)][0]
                self.track(when, user_id, dev, "plan_upgraded", {"from": plan, "to": new_plan})
                self.stream.emit(when, "identify", user_id=user_id, traits={"plan": new_plan})
                plan = new_plan

    def page(self, t, user_id, device: Device, path, referrer, campaign) -> None:
        self.stream.emit(
            t,
            "page",
            user_id=user_id,
            anonymous_id=device.anonymous_id,
            name=path.strip("/").split("/")[-1].title() or "Home",
            properties={"path": path, "referrer": referrer, "title": f"paw sample {path}"},
            context=event_context(device, path, referrer, campaign),
        )

    def track(self, t, user_id, device: Device | None, event, properties) -> None:
        self.stream.emit(
            t,
            "track",
            user_id=user_id,
            anonymous_id=device.anonymous_id if device else None,
            event=event,
            properties=properties,
            context=event_context(device, None, "", None),
        )

    def order(self, t, user_id, plan, price) -> None:
        # Server-side: a user id only, no device, no anonymous id.
        seats = self.rng.randint(1, 10)
        self.stream.emit(
            t,
            "track",
            user_id=user_id,
            event="order_completed",
            properties={
                "order_id": self.stream.new_id()[:12],
                "plan": plan,
                "revenue": round(price * seats, 2),
                "currency": "USD",
                "seats": seats,
            },
            context={"library": {"name": "analytics-python", "version": "2.3.0"}},
        )
        self.stream.emit(
            t + timedelta(seconds=1),
            "track",
            user_id=user_id,
            event="invoice_paid",
            namespace="billing",
            properties={"amount": round(price * seats, 2), "currency": "USD"},
        )

    def app_session(self, day, user_id, device: Device, plan, experiment, shown) -> None:
        rng = self.rng
        t = self.session_start(day)
        self.track(t, user_id, device, "logged_in", {"method": rng.choice(["password", "sso"])})
        if rng.random() < 0.3:
            for variant in shown:
                self.track(
                    t,
                    user_id,
                    device,
                    "experiment_viewed",
                    {"experiment": experiment, "variant": variant},
                )
            goal_rate = ONBOARDING_GOAL_RATES.get(variant, 0.0)
            if experiment == "new_onboarding" and rng.random() < goal_rate:
                t += timedelta(seconds=rng.uniform(30, 900))
                self.track(t, user_id, device, "project_created", {"template": "checklist"})
        for _ in range(rng.randint(1, 8)):
            t += timedelta(seconds=rng.uniform(10, 600))
            if rng.random() < 0.5:
                self.page(t, user_id, device, rng.choice(APP_PAGES), "", None)
            else:
                self.track(t, user_id, device, "feature_used", {"feature": rng.choice(FEATURES)})
        if rng.random() < 0.05:
            answer: dict = {"score": rng.choice(NPS_SCORES)}
            if rng.random() < 0.3:
                answer["comment"] = rng.choice(NPS_COMMENTS)
            if rng.random() < 0.03:  # a broken survey widget: not a 0-10 integer
                answer["score"] = rng.choice([10.5, "ten", None])
            self.track(t, user_id, device, "nps_submitted", answer)
        if rng.random() < 0.2:
            self.stream.emit(
                t,
                "track",
                user_id=user_id,
                event="api_request",
                namespace="infra",
                properties={
                    "endpoint": rng.choice(["/v1/query", "/v1/ingest"]),
                    "status": rng.choice([200, 200, 200, 429, 500]),
                    "latency_ms": rng.randint(5, 900),
                },
            )
        # Skewed device clock on a share of sessions: the device is 2 hours fast, and the
        # sentAt/receivedAt pair tells how much.
        if rng.random() < 0.01:
            self.stream.emit(
                t,
                "track",
                user_id=user_id,
                anonymous_id=device.anonymous_id,
                event="feature_used",
                properties={"feature": "dashboards"},
                skew_seconds=7200,
            )

    def bad_input(self) -> None:
        rng = self.rng
        rows = self.stream.rows
        n_bad = int(len(rows) * self.o.bad_rate)
        self.bad_lines = n_bad
        makers = [
            lambda r: r[: len(r) // 2],  # truncated line: invalid_json
            lambda r: b'"just a string"',
            lambda r: r.replace(b'"userId":"', b'"userId":"null","x":"', 1).replace(
                b'"anonymousId":"', b'"anonymous":"', 1
            ),  # placeholder ids only
            lambda r: r.replace(b'"properties":{', b'"properties":"oops","p":{', 1),
            lambda r: r.replace(b'"type":"', b'"type":"x', 1),
        ]
        for _ in range(n_bad):
            received, line = rows[rng.randrange(len(rows))]
            rows.append((received, rng.choice(makers)(line)))
        n_redeliver = int(len(rows) * self.o.redelivery_rate)
        self.redeliveries = n_redeliver
        for _ in range(n_redeliver):
            received, line = rows[rng.randrange(len(rows))]
            rows.append((received + rng.uniform(60, 86400), line))  # delivered again, later


def generate(storage: Storage, options: GenerateOptions) -> GenerateReport:
    """Simulate, then write the events to `storage` as NDJSON (some gzip) files by day, plus
    one Segment batch envelope file."""
    sim = _Simulation(options)
    sim.run()
    files = write_landing_files(
        storage,
        sim.stream.rows,
        seed=options.seed + 1,
        files_per_day=options.files_per_day,
        file_prefix=options.file_prefix,
        gzip_share=options.gzip_share,
    )
    report = GenerateReport(
        files=files,
        events=len(sim.stream.rows),
        bad_lines=sim.bad_lines,
        redeliveries=sim.redeliveries,
        start=sim.start,
        end=sim.end,
    )
    log.info(
        "generated %d lines in %d files (%s to %s): %d bad on purpose, %d redelivered",
        report.events,
        files,
        sim.start,
        sim.end,
        report.bad_lines,
        report.redeliveries,
    )
    return report
