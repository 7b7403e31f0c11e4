"""Live panels over Server-Sent Events: re-run each panel on its refresh interval and
push it only when its data changed, so an idle dashboard costs the browser nothing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping

import anyio
import orjson

from eventlake.dashboard.params import Value
from eventlake.dashboard.service import DashboardService
from eventlake.dashboard.specs import Dashboard


def sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {orjson.dumps(data).decode()}\n\n"


async def panel_events(service: DashboardService, dash: Dashboard, values: Mapping[str, Value]) -> AsyncIterator[str]:
    """The event stream of one dashboard view; ends when the client goes away (cancelled)."""
    heartbeat = service.settings.dashboard.stream_heartbeat_s
    due = {p.id: 0.0 for p in dash.panels}
    sent: dict[str, str] = {}
    last_write = time.monotonic()
    # Reconnect quickly after a server restart; EventSource does it by itself.
    yield "retry: 2000\n\n"
    while True:
        now = time.monotonic()
        for panel in dash.panels:
            if due[panel.id] > now:
                continue
            data = await anyio.to_thread.run_sync(service.panel_data, dash, panel, values)
            due[panel.id] = time.monotonic() + service.refresh_s(panel)
            digest = data.digest()
            if sent.get(panel.id) != digest:
                sent[panel.id] = digest
                last_write = time.monotonic()
                yield sse("panel", data.to_dict())
        if time.monotonic() - last_write >= heartbeat:
            last_write = time.monotonic()
            yield ": keep-alive\n\n"
        await anyio.sleep(max(0.05, min(due.values()) - time.monotonic()))
