"""Reliability soak: the real bridge killed and restarted many times, then a fuzzing marathon.

    python bench/soak.py                 # 50 kill/restart runs + 12,000 fuzz cases (~7 min)
    python bench/soak.py --quick         # 6 runs + 1,200 cases, a smoke run (~1 min)
    python bench/soak.py --runs 100 --fuzz 30000 --seed 7 --max-minutes 30

Loopback only: the sandbox Wati (with Wati's real 10 getMessages per 10 s), the Slack stand-in
and `python -m bot run` in HTTP mode as a subprocess. Each run starts the bridge, lets customers
write and teammates reply at a human pace for a random 0.5-3 s, sometimes holds a Slack post, a
Wati send or a reaction in flight, and SIGKILLs the process at a random moment (or while the
call is held). Nothing is aged or skipped: sends whose fate a kill left open wait the real 30 s
for Wati's history. At the end the bridge runs until every promise holds, and the figures are
printed: every customer message in Slack exactly once, every reply sent at most once with its
outcome shown. The fuzzing phase then runs the generated-input properties of
tests/test_reliability_fuzz.py with large example counts. Exits 1 if any promise was broken or
the time limit was reached.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.devtools.harness.fuzz import FUZZ, fuzz_world
from bot.devtools.harness.traffic import problems, relayed
from bot.devtools.harness.world import CHATS, SENT_MARKS, SLACK_OF, World
from bot.slack import blocks

HOLDS = ("post-applied", "post-dropped", "parent-applied", "send-applied", "send-dropped", "mark")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def _arm(world: World, kind: str) -> Any:
    """Hold one call in flight so the kill lands in a dangerous window."""
    slack = world.slack

    def meta(args: dict[str, Any]) -> str:
        return str(args.get("metadata") or "")

    if kind == "post-applied":
        return slack.hold_next(
            "chat.postMessage", applied=True, when=lambda a: blocks.MESSAGE_EVENT in meta(a)
        )
    if kind == "post-dropped":
        return slack.hold_next(
            "chat.postMessage", applied=False, when=lambda a: blocks.MESSAGE_EVENT in meta(a)
        )
    if kind == "parent-applied":
        return slack.hold_next(
            "chat.postMessage", applied=True, when=lambda a: blocks.THREAD_EVENT in meta(a)
        )
    if kind == "send-applied":
        return world.sandbox.faults.hold("sendSessionMessage", applied=True)
    if kind == "send-dropped":
        return world.sandbox.faults.hold("sendSessionMessage", applied=False)
    return slack.hold_next("reactions.add", applied=False)


def crash_soak(tmp: Path, runs: int, rng: random.Random, deadline: float) -> dict[str, Any]:
    figures: dict[str, Any] = {"runs": 0, "holds armed": 0, "kills while held": 0}
    healthy_after: list[float] = []
    with World(tmp, wati_limit=None) as world:
        world.prepare(CHATS)
        traffic = world.traffic(rng, CHATS)
        traffic.greet()
        for _ in range(runs):
            if time.monotonic() > deadline:
                break
            bridge = world.start_bridge(timeout=60)
            healthy_after.append(bridge.healthy_at - bridge.started_at)
            traffic.flush()
            hold = None
            if rng.random() < 0.35:
                hold = _arm(world, rng.choice(HOLDS))
                figures["holds armed"] += 1
            until = time.monotonic() + rng.uniform(0.5, 3.0)
            while time.monotonic() < until:
                traffic.step(reply_share=0.45)
                if hold is not None and hold.holding:
                    figures["kills while held"] += 1
                    break
                time.sleep(rng.uniform(0.05, 0.4))
            world.kill_bridge()
            if hold is not None:
                hold.release()
            figures["runs"] += 1
        # The last start: the bridge runs until every promise holds. Slack takes one post per
        # second per channel, so the backlog left by the runs sets a floor for the catch-up.
        in_slack = Counter(w for c in SLACK_OF.values() for w, _, _ in relayed(world.slack, c))
        backlog = Counter(
            SLACK_OF[number] for w, (number, _, _) in traffic.said.items() if not in_slack[w]
        )
        figures["backlog at the last restart (messages)"] = sum(backlog.values())
        floor = max(backlog.values(), default=0)
        final = world.start_bridge(timeout=60)
        healthy_after.append(final.healthy_at - final.started_at)
        traffic.flush()
        started = time.monotonic()
        seen: list[str] = []
        while time.monotonic() < max(deadline, started + 120):
            seen = problems(traffic)
            if not seen:
                break
            time.sleep(2.0)  # the check copies the whole workspace: not too often
        catch_up = time.monotonic() - started
        figures["catch-up after the last restart (s)"] = round(catch_up, 1)
        figures["catch-up / Slack's floor (1 post/s/channel)"] = (
            round(catch_up / floor, 2) if floor else "no backlog"
        )
        figures["exit status on SIGTERM"] = final.stop()
        seen = problems(traffic)  # once more, after the clean stop
        figures.update(_outcome_figures(world, traffic, seen, healthy_after))
    return figures


def _outcome_figures(
    world: World, traffic: Any, seen: list[str], healthy_after: list[float]
) -> dict[str, Any]:
    slack, sandbox = world.slack, world.sandbox
    sent = sandbox.sent_by_api()
    sent_at = {m["text"]: datetime.fromisoformat(m["created"]).timestamp() for m in sent}
    replies = list(traffic.replies.values())
    reply_latency = [sent_at[r.text] - r.at for r in replies if r.text in sent_at]
    outcomes: Counter[str] = Counter()
    for reply in replies:
        marks = set(slack.reactions(reply.channel, reply.ts))
        outcomes["sent" if marks & SENT_MARKS else "failed" if marks else "no outcome"] += 1
    log = world.log_path.read_text(errors="replace")
    counts = Counter(m["text"] for m in sent)
    in_slack = Counter(w for channel in SLACK_OF.values() for w, _, _ in relayed(slack, channel))
    return {
        "customer messages": len(traffic.said),
        "in Slack exactly once": sum(1 for w in traffic.said if in_slack[w] == 1),
        "in Slack twice or more": sum(1 for w in traffic.said if in_slack[w] > 1),
        "missing from Slack": sum(1 for w in traffic.said if in_slack[w] == 0),
        "replies": len(replies),
        "reply outcomes": dict(outcomes),
        "replies sent twice": sum(1 for c in counts.values() if c > 1),
        "sends settled from Wati's history": log.count("Wati's history decides"),
        "Slack event retries delivered": traffic.retries,
        "deliveries Slack gave up on": traffic.given_up,
        "restart to healthy, median (s)": round(statistics.median(healthy_after), 2),
        "restart to healthy, p95 (s)": round(_percentile(healthy_after, 0.95), 2),
        "reply to Wati, median (s)": round(statistics.median(reply_latency), 2),
        "reply to Wati, p95 (s)": round(_percentile(reply_latency, 0.95), 2),
        "broken promises": seen,
    }


def fuzz_soak(tmp: Path, total: int, deadline: float) -> dict[str, Any]:
    per = max(1, total // len(FUZZ))
    counts: dict[str, int] = {}
    started = time.monotonic()
    logging.disable(logging.WARNING)  # malformed input is logged at WARNING by design
    try:
        with fuzz_world(tmp) as world:
            for name, prop in FUZZ.items():
                if time.monotonic() > deadline:
                    break
                counts[name] = prop(world, per)
            errors = len(world.errors) + len(world.wati_errors)
    finally:
        logging.disable(logging.NOTSET)
    return {
        "fuzz cases": counts,
        "fuzz cases in total": sum(counts.values()),
        "fuzz errors reaching Bolt's error handler": errors,
        "fuzz time (s)": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="kill/restart runs (default 50)")
    parser.add_argument("--fuzz", type=int, default=12_000, help="generated cases in total")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--max-minutes", type=float, default=20.0, help="time limit")
    parser.add_argument("--quick", action="store_true", help="6 runs and 1,200 fuzz cases")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.fuzz = 6, 1_200
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    started = time.monotonic()
    deadline = started + args.max_minutes * 60
    print(f"soak: {args.runs} kill/restart runs, {args.fuzz:,} fuzz cases, seed {seed}")
    with tempfile.TemporaryDirectory(prefix="wati-soak-") as tmp:
        crash = crash_soak(Path(tmp) / "crash", args.runs, random.Random(seed), deadline)
        for name, value in crash.items():
            if name != "broken promises":
                print(f"  {name}: {value}")
        fuzz = fuzz_soak(Path(tmp) / "fuzz", args.fuzz, deadline)
        for name, value in fuzz.items():
            print(f"  {name}: {value}")
    elapsed = time.monotonic() - started
    print(f"  total time: {elapsed / 60:.1f} min")
    broken = crash["broken promises"]
    for problem in broken:
        print(f"BROKEN: {problem}")
    out_of_time = time.monotonic() > deadline
    if out_of_time:
        print("time limit reached before the soak finished")
    ok = (
        not broken
        and not out_of_time
        and crash["runs"] >= args.runs
        and crash["exit status on SIGTERM"] == 0
        and crash["reply outcomes"].get("no outcome", 0) == 0
        and fuzz["fuzz errors reaching Bolt's error handler"] == 0
        and fuzz["fuzz cases in total"] >= args.fuzz * 0.9
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
