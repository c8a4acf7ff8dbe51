"""Progress bars that suit both a terminal and a log file.

On a terminal a bar redraws in place (tqdm). Written to a log file or a CI console, tqdm's redraws
pile up as hundreds of carriage-return-separated lines; there the bar stays silent while it runs
and prints its final state once, when it closes.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

__all__ = ["ProgressBar"]


class _Discard:
    """A file that swallows writes: the silent bar still counts items and measures their rate."""

    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


class ProgressBar(tqdm):
    """``tqdm`` on a terminal; elsewhere, one line with the final count, time and rate.

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
        super().__init__(*args, file=stream if interactive else _Discard(), **kwargs)

    def close(self) -> None:
        """Close the bar; off a terminal, print its final line (once, however often called)."""
        stream, self._summary_stream = self._summary_stream, None
        if stream is not None and not self.disable:
            print(str(self), file=stream, flush=True)
        super().close()
