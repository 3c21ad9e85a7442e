"""Media benchmark: the memory and time the real bridge takes to relay a customer's 50 MB video.

    python bench/media.py            # 5 runs (about 2 minutes)
    python bench/media.py --quick    # 1 run, 10 MB
    python bench/media.py --mb 100 --runs 3

Each run starts a fresh `python -m bot run` (HTTP mode) against the sandbox Wati and the Slack
stand-in on loopback, lets it settle, then the customer sends the video. Time runs from the
video reaching Wati to its file share appearing in the thread (a poll, the download, the
upload). Memory is the bridge process's peak resident set (VmHWM in /proc), before the video
and after it: the file is streamed from Wati to a temporary file and from there to Slack, so
the peak should grow by a few MB, not by the video's size. Medians of the runs are printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

# The checkout's code, not whatever `bot` the environment has installed: the bridge process
# is started from the folder holding the imported `bot` package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.devtools.harness.traffic import thread_parents  # noqa: E402
from bot.devtools.harness.world import NUMBER_A, SLACK_A, World, wait_until  # noqa: E402

CUSTOMER = "447700900999"


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set so far, in MB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc (Linux only)")


def shared_file(world: World) -> dict[str, object] | None:
    for parent in thread_parents(world.slack, SLACK_A):
        for message in world.slack.replies(SLACK_A, parent["ts"])[1:]:
            if message.get("files"):
                return message
    return None


def one_run(size: int) -> tuple[float, float, float]:
    """(seconds to relay, peak RSS before, peak RSS after) of one fresh bridge."""
    with tempfile.TemporaryDirectory() as tmp, World(Path(tmp)) as world:
        world.prepare(())
        world.known_chat(NUMBER_A, CUSTOMER)
        world.sandbox.customer_says(NUMBER_A, CUSTOMER, "I will send a video of the damage")
        bridge = world.start_bridge()
        wait_until(lambda: thread_parents(world.slack, SLACK_A), 60, "the thread")
        time.sleep(2)  # let start-up settle before the baseline (not a test: a measurement)
        pid = bridge.proc.pid
        before = peak_rss_mb(pid)
        video = (b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4096)[: 1024 * 1024]
        content = video * (size // len(video))
        started = time.monotonic()
        world.sandbox.customer_sends_file(
            NUMBER_A, CUSTOMER, "damage.mp4", content, "video/mp4", caption="the box"
        )
        wait_until(lambda: shared_file(world) is not None, 300, "the video in the thread")
        elapsed = time.monotonic() - started
        after = peak_rss_mb(pid)
        message = shared_file(world)
        assert message is not None
        file_id = str(message["files"][0]["id"])  # type: ignore[index]
        got = world.slack.file_content(file_id)
        assert got is not None and len(got) == len(content), "the video arrived incomplete"
        return elapsed, before, after


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run of 10 MB")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mb", type=int, default=50)
    args = parser.parse_args()
    runs, mb = (1, 10) if args.quick else (args.runs, args.mb)
    results = []
    print(f"bridge code from {Path(sys.modules['bot'].__file__ or '').parent}", flush=True)
    for k in range(1, runs + 1):
        elapsed, before, after = one_run(mb * 1024 * 1024)
        results.append((elapsed, before, after))
        print(
            f"run {k}: {elapsed:5.2f} s; bridge peak RSS {before:6.1f} MB before, "
            f"{after:6.1f} MB after (+{after - before:.1f} MB)",
            flush=True,
        )
    seconds = statistics.median(r[0] for r in results)
    growth = statistics.median(r[2] - r[1] for r in results)
    peak = statistics.median(r[2] for r in results)
    print(
        f"\n{mb} MB video, median of {runs}: relayed in {seconds:.2f} s "
        f"({mb / seconds:.1f} MB/s); bridge peak RSS {peak:.1f} MB, "
        f"+{growth:.1f} MB over its peak before the video"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
