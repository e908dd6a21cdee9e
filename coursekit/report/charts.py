"""The report's charts: a histogram of the scores and the pass rate per test cell (matplotlib, Agg)."""
import statistics


def pyplot():
    """matplotlib's pyplot with the file-only Agg backend (imported when a chart is drawn)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


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
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_pass_rates(summary, path):
    """A horizontal bar per test cell, in notebook order: the share of students who passed it."""
    plt = pyplot()
    cells = list(summary.max_points)
    shares = [100 * summary.pass_share(cell) for cell in cells]
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(cells) + 1.2), dpi=100)
    bars = ax.barh(cells[::-1], shares[::-1], color="#55a868")
    ax.bar_label(bars, labels=[f"{s:.0f}%" for s in shares[::-1]], padding=3, fontsize=8)
    ax.set(xlim=(0, 112), xlabel="students who passed (%)", title="Pass rate per test cell")
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
