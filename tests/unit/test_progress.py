"""Progress bars in a log file: a line a minute, the rate they report."""

import io

from molgan.progress import ProgressBar


def test_a_log_bar_reports_the_mean_rate(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr("tqdm.std.time", lambda: clock[0])
    out = io.StringIO()
    bar = ProgressBar(total=10_000, unit="mol", file=out, interactive=False)
    for seconds in (240, 40, 40, 40, 40, 40):  # a slow first batch, then steady ones
        clock[0] += seconds
        bar.update(1000)
    assert "13.64mol/s" in str(bar)  # 6,000 molecules in 440 s
    bar.close()
    assert out.getvalue().count("\n") == 4  # at 240, 320 and 400 s (a minute apart), and at close
