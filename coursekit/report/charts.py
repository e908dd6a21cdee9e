"""The report's charts: a histogram of the scores, the pass rate per test cell and why cells failed (matplotlib, Agg)."""
import statistics


def pyplot():
    """matplotlib's pyplot with the file-only Agg backend (imported when a chart is drawn)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save(plt, fig, path):
    """Write the figure to path (PNG) and free it; returns path."""
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def percent_bars(ax, labels, shares, color, labelsize):
    """Horizontal bars of shares (per cent), the first at the top, each labelled with its value."""
    bars = ax.barh(range(len(shares))[::-1], shares, tick_label=labels, color=color)
    ax.bar_label(bars, labels=[f"{s:.0f}%" for s in shares], padding=3, fontsize=8)
    ax.tick_params(axis="y", labelsize=labelsize)
    ax.set_xlim(0, 112)


def plot_histogram(summary, path):
    """A histogram of the total scores, one bar per point (or per 1/20 of the maximum)."""
    plt = pyplot()
    totals, top = summary.totals(), summary.max_total
    step = 1 if top <= 30 else top / 20
    edges = [i * step - step / 2 for i in range(int(top / step) + 2)]
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    ax.hist(totals, bins=edges, color="#4c72b0", edgecolor="white")
    ax.set(xlabel=f"score (out of {top:g})", ylabel="students", xlim=(edges[0], edges[-1]),
           title=f"Scores: {len(totals)} students, mean {statistics.mean(totals):.1f}, "
                 f"median {statistics.median(totals):g}")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return save(plt, fig, path)


def plot_pass_rates(summary, path):
    """A horizontal bar per test cell, in notebook order: the share of students who passed it."""
    plt = pyplot()
    cells = list(summary.max_points)
    shares = [100 * summary.pass_share(cell) for cell in cells]
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(cells) + 1.2), dpi=100)
    percent_bars(ax, cells, shares, "#55a868", labelsize=8)
    ax.set(xlabel="students who passed (%)", title="Pass rate per test cell")
    return save(plt, fig, path)


def plot_failure_reasons(summary, path, top=3, width=90):
    """A horizontal bar per (test cell, one of its top reasons), labelled "cell: reason": the share of students
    who failed the cell for that reason; a cell's bars share a colour, cells in notebook order. A class with no
    failure gets a note instead."""
    from .reasons import shorten
    plt = pyplot()
    rows = [(cell, reason, k) for cell in summary.max_points if summary.failures.get(cell)
            for reason, k in summary.failures[cell].most_common(top)]
    n = len(summary.scores) or 1
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(rows) + 1.4), dpi=100)
    if not rows:
        ax.text(0.5, 0.5, "every test cell passed for every student", ha="center", va="center")
        ax.set_axis_off()
    else:
        colours = plt.get_cmap("tab10")
        cells = list(dict.fromkeys(cell for cell, _, _ in rows))
        labels = [f"{cell}: {reason}".replace("$", r"\$") for cell, reason, _ in rows]  # no mathtext
        labels = [shorten(label, width) for label in labels]
        shares = [100 * k / n for _, _, k in rows]
        percent_bars(ax, labels, shares, [colours(cells.index(cell) % 10) for cell, _, _ in rows], labelsize=7)
        ax.set(xlabel="students (%)", title="Why test cells failed (the trusted run's messages)")
    return save(plt, fig, path)
