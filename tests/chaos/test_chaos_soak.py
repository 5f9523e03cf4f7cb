"""The soak's own parts: the lean HTTP client (keep-alive, a connection the server closed
while idle is replaced), and the drift arithmetic of its verdict."""

from __future__ import annotations

import asyncio
import json

from chaos.sampler import MB, Sample
from chaos.soak_http import Pool
from chaos.soak_load import Minute
from chaos.soak_report import cores_between, row, slope_per_hour, verdict


async def _answer_once_then_close(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Answers one request with its body echoed, then closes (as an idle timeout would)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    body = json.dumps({"echo": json.loads(await reader.readexactly(length))}).encode()
    writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    await writer.drain()
    writer.close()


async def test_the_pool_posts_json_and_replaces_a_connection_closed_while_idle() -> None:
    server = await asyncio.start_server(_answer_once_then_close, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = Pool("127.0.0.1", port)
    try:
        assert await pool.post("/orders", {"n": 1}) == (202, {"echo": {"n": 1}})
        await asyncio.sleep(0.1)  # the server has closed the kept connection meanwhile
        assert await pool.post("/orders", {"n": 2}) == (202, {"echo": {"n": 2}})
    finally:
        pool.close()
        server.close()


def test_the_slope_is_in_megabytes_per_hour() -> None:
    assert slope_per_hour([(0.0, 100.0), (10.0, 110.0), (20.0, 120.0)]) == 60.0
    assert slope_per_hour([(5.0, 80.0)]) == 0.0


def test_the_verdict_names_rss_growth_after_the_warmup_and_p99_growth() -> None:
    minutes = []
    for minute in range(9):
        figures = Minute(latencies=[0.010] * 98 + [0.020 * (1 + minute // 3)] * 2)
        memory = {"tally-up": Sample(minute, (100 + 2 * minute) * MB, 40)}
        minutes.append(row(minute, figures, 0, 60 * minute, memory))
    lines = verdict(minutes, ["tally-up"], warmup=3)
    assert lines[0] == (
        "drift tally-up: RSS 106 -> 116 MB, +120 MB/h after minute 3, +34.1 KB per order opened"
    )
    assert lines[1].startswith("drift p99: 40.0 ms (first third) -> 60.0 ms (last third), x1.50")


def test_minutes_without_answers_are_named_and_left_out_of_the_p99() -> None:
    minutes = [
        row(
            m,
            Minute(latencies=[] if m in (4, 5) else [0.010] * 100, errors=50 * (m in (4, 5))),
            0,
            10,
            {},
            load=2.0 + m,
        )
        for m in range(9)
    ]
    lines = verdict(minutes, [], warmup=3)
    assert lines[0].startswith("drift p99: 10.0 ms (first third) -> 10.0 ms (last third), x1.00")
    assert lines[1] == (
        "errors: 100 in 2 of 9 minutes, 2 minutes without an answer; load average 2.0-10.0"
    )


def test_the_cost_of_the_load_is_each_process_cores_and_cpu_per_answer() -> None:
    before = {"api": Sample(0, MB, 10, cpu=5.0), "nats": Sample(0, MB, 10, cpu=1.0)}
    after = {
        "api": Sample(1, MB, 10, cpu=35.0),
        "nats": Sample(1, MB, 10, cpu=7.0),
        "fulfil": Sample(1, MB, 10, cpu=3.0),  # not seen before (restarted): left out
    }
    cores = cores_between(before, after, 60.0)
    assert cores == {"api": 0.5, "nats": 0.1}
    minutes = [row(m, Minute(latencies=[0.01] * 6000), 0, 0, after, cores=cores) for m in range(3)]
    lines = verdict(minutes, ["api", "fulfil", "nats"], warmup=1)
    assert "cpu: api 0.50, nats 0.10 = 0.60 cores for 100.0 answers/s" in lines[-2]
    assert lines[-2].endswith("(6.00 ms CPU per answered command)")
