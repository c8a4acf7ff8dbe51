"""Progress bars that suit both a terminal and a log file.

On a terminal a bar redraws in place (tqdm). Written to a log file or a CI console, tqdm's redraws
pile up as hundreds of carriage-return-separated lines; there the bar prints one plain line a
minute while it runs (so a long run in a log shows it is alive) and its final state once, when
it closes.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

__all__ = ["ProgressBar", "LOG_INTERVAL"]

LOG_INTERVAL = 60.0
"""Seconds between the lines a bar writes to a log (off a terminal)."""


class _Discard:
    """A file that swallows writes: the silent bar still counts items and measures their rate."""

    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


class ProgressBar(tqdm):
    """``tqdm`` on a terminal; elsewhere, a line a minute and the final line once.

    Takes tqdm's arguments (``total``, ``desc``, ``unit``, ``initial``, ``disable``, ...).

    Examples:
        >>> for _ in ProgressBar(range(3), desc="demo", file=sys.stdout, interactive=False):
        ...     pass  # doctest: +ELLIPSIS
        demo: 100%|...| 3/3 [...]
    """

    def __init__(self, *args: Any, interactive: bool | None = None, **kwargs: Any) -> None:
        stream = kwargs.pop("file", None) or sys.stderr
        if interactive is None:
            interactive = bool(getattr(stream, "isatty", lambda: False)())
        self._summary_stream = None if interactive else stream
        if not interactive:
            kwargs.setdefault("mininterval", LOG_INTERVAL)  # tqdm then displays this seldom
            # A line a minute gives tqdm's moving average too few points to forget a slow first
            # batch (a 10,000-molecule MOSES sample logged 5.9 mol/s at 25): the mean rate instead.
            kwargs.setdefault("smoothing", 0.0)
        super().__init__(*args, file=stream if interactive else _Discard(), **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> None:
        """Redraw on a terminal; in a log, write the current state as a line.

        The final state is left to :meth:`close`, so that it is written once.
        """
        if self._summary_stream is None:
            super().display(msg, pos)
        elif self.n and self.n != self.total:
            print(str(self), file=self._summary_stream, flush=True)

    def close(self) -> None:
        """Close the bar; off a terminal, print its final line (once, however often called)."""
        stream, self._summary_stream = self._summary_stream, None
        if stream is not None and not self.disable:
            print(str(self), file=stream, flush=True)
        super().close()
