"""The week's picture as a PNG, drawn with matplotlib's Agg backend (no display, no pyplot
state: safe from the scheduler's threads).

One row per number: conversations opened and resolved (bars), the first reply's median and
90th percentile in minutes (lines), and the average rating (1-5). The figures it was drawn from
are kept in the PNG's `Description` text chunk as JSON, so what a picture shows can be checked.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

Summary = Mapping[str, object]
WIDTH, ROW_HEIGHT, DPI = 10.0, 2.6, 80  # inches, inches, dots per inch: 800 px wide
METADATA_KEY = "Description"


def draw(rows: Mapping[str, Sequence[Summary]]) -> bytes:
    """PNG bytes: one row of three panels per number (title → its weeks, oldest first)."""
    count = max(1, len(rows))
    figure = Figure(figsize=(WIDTH, ROW_HEIGHT * count), dpi=DPI)
    FigureCanvasAgg(figure)
    # Fixed margins: a layout engine measures every label first and doubles the drawing time.
    grid = figure.subplots(count, 3, squeeze=False)
    figure.subplots_adjust(
        left=0.05,
        right=0.98,
        top=1 - 0.3 / (ROW_HEIGHT * count),
        bottom=0.35 / (ROW_HEIGHT * count),
        wspace=0.22,
        hspace=0.4,
    )
    for (title, weeks), axes in zip(rows.items(), grid, strict=False):
        labels = [str(w["week"])[5:] for w in weeks]  # "11-30": the week's first day
        spots = range(len(weeks))
        conversations, replies, rating = axes
        conversations.bar(
            [x - 0.2 for x in spots], [_n(w["opened"]) for w in weeks], 0.4, label="opened"
        )
        conversations.bar(
            [x + 0.2 for x in spots], [_n(w["resolved"]) for w in weeks], 0.4, label="resolved"
        )
        conversations.set_title(f"{title}: conversations", fontsize=9)
        conversations.legend(fontsize=7)
        replies.plot(spots, [_y(w["reply_median"]) for w in weeks], marker="o", label="median")
        replies.plot(spots, [_y(w["reply_p90"]) for w in weeks], marker="o", label="90th pct")
        replies.set_title("first reply (minutes)", fontsize=9)
        replies.set_ylim(bottom=0)
        replies.legend(fontsize=7)
        rating.plot(spots, [_y(w["rating"]) for w in weeks], marker="o", color="tab:green")
        rating.set_ylim(0.5, 5.5)
        rating.set_title("average rating", fontsize=9)
        for ax in axes:
            ax.set_xticks(list(spots), labels, fontsize=7)
            ax.tick_params(axis="y", labelsize=7)
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={METADATA_KEY: json.dumps(rows, sort_keys=True)})
    return out.getvalue()


def _n(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _y(value: object) -> float:
    # A week without data is a gap in the line, not a zero.
    return float(value) if isinstance(value, int | float) else float("nan")
