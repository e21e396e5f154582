"""The simulated event stream: each call becomes one Segment-shaped JSON line with the time the
server received it (latency and device clock skew included), and the context a device sends."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson


class EventStream:
    """Collects the events of the simulation with their delivery times."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.rows: list[tuple[float, bytes]] = []  # (received epoch seconds, line)
        self.horizon: datetime | None = None  # nothing happens after the last day

    def new_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def emit(
        self,
        when: datetime,
        kind: str,
        *,
        user_id: str | None = None,
        anonymous_id: str | None = None,
        event: str | None = None,
        name: str | None = None,
        properties: dict | None = None,
        traits: dict | None = None,
        context: dict | None = None,
        namespace: str | None = None,
        extra: dict | None = None,
        skew_seconds: float = 0.0,
    ) -> None:
        if self.horizon is not None and when >= self.horizon - timedelta(seconds=5):
            return  # nothing after the last day, skew correction included
        rng = self.rng
        latency = rng.uniform(0.05, 3.0)
        device_time = when + timedelta(seconds=skew_seconds)
        sent = device_time + timedelta(seconds=rng.uniform(0.0, 2.0))
        received = when + timedelta(seconds=latency)
        msg: dict = {"type": kind, "messageId": self.new_id()}
        if event is not None:
            msg["event"] = event
        if name is not None:
            msg["name"] = name
        if user_id is not None:
            msg["userId"] = user_id
        if anonymous_id is not None:
            msg["anonymousId"] = anonymous_id
        msg["timestamp"] = device_time.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        msg["sentAt"] = sent.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        msg["receivedAt"] = received.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if properties:
            msg["properties"] = properties
        if traits:
            msg["traits"] = traits
        if context:
            msg["context"] = context
        if namespace:
            msg["namespace"] = namespace
        if extra:
            msg.update(extra)
        self.rows.append((received.timestamp(), orjson.dumps(msg)))


@dataclass
class Device:
    anonymous_id: str
    kind: str
    os: str
    browser: str


def event_context(device: Device | None, path: str | None, referrer: str, campaign) -> dict:
    ctx: dict = {}
    if device is not None:
        ctx["device"] = {"type": device.kind}
        ctx["os"] = {"name": device.os}
        ctx["browser"] = {"name": device.browser}
        ctx["library"] = {"name": "analytics.js", "version": "4.1.0"}
    if path is not None:
        ctx["page"] = {"path": path, "referrer": referrer, "url": f"https://app.example.com{path}"}
    if campaign is not None:
        ctx["campaign"] = {"source": campaign[0], "medium": campaign[1], "name": campaign[2]}
    return ctx
