"""Progress of a long run: a tqdm bar with ETA on a terminal, one plain line per item otherwise."""
import shutil
import sys

from tqdm import tqdm


class LineProgress:
    """One line per finished item ("[3/24] alice: 14/14 (4.1 s)"), for logs, pipes and CI."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def start(self, total, unit="submission"):
        """Begin counting to total."""
        self.total, self.count = total, 0

    def done(self, name, text="", problem=None):
        """One item finished: its name, what to say about it, and a problem to flag, if any."""
        self.count += 1
        note = f"  ! {problem}" if problem else ""
        print(f"[{self.count}/{self.total}] {name}: {text}{note}", file=self.stream, flush=True)

    def close(self):
        """Nothing to tidy up."""


class BarProgress:
    """A tqdm progress bar with rate and ETA; problems are printed above it as they happen."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr

    def start(self, total, unit="submission"):
        """Show an empty bar for total items."""
        self.bar = tqdm(total=total, unit=unit, file=self.stream, dynamic_ncols=True)

    def done(self, name, text="", problem=None):
        """Advance the bar by one; print the problem above it, if any."""
        if problem:
            self.bar.write(f"{name}: {problem}", file=self.stream)
        self.bar.set_postfix_str(name, refresh=False)
        self.bar.update(1)

    def close(self):
        """Finish the bar."""
        self.bar.close()


def default_progress():
    """A progress bar when stderr is a terminal wide enough for one, progress lines otherwise."""
    wide = sys.stderr.isatty() and shutil.get_terminal_size(fallback=(0, 0)).columns >= 40
    return BarProgress() if wide else LineProgress()
