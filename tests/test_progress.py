"""fer.output.progress: one set of progress figures for the CLI's bar and the Video page's
sentence."""

import io

from fer.output.progress import Progress, ProgressBar, Throttle, format_clock


def test_figures_rate_and_time_left():
    now = Progress(done=45, total=150, elapsed=9.0, analysed=9)
    assert now.fraction == 0.3 and now.analysed_per_s == 1.0
    assert now.eta_s == 21.0  # 105 frames left at 5 frames/s
    assert now.sentence() == "45 / 150 frames · 1.0 analysed frames/s · about 0:21 left"
    unknown = Progress(done=45, total=None, elapsed=9.0, analysed=9)
    assert unknown.fraction == 0.0 and unknown.eta_s == 0.0
    assert unknown.sentence() == "45 frames · 1.0 analysed frames/s"
    assert Progress(0, 150, 0.0, 0).eta_s == 0.0 and Progress(150, 150, 3.0, 30).eta_s == 0.0
    assert [format_clock(s) for s in (0, 59.6, 65.4, 3600, -3)] == [
        "0:00",
        "1:00",
        "1:05",
        "60:00",
        "0:00",
    ]


def test_throttle_lets_one_report_per_interval_and_always_the_last():
    throttle = Throttle(0.25)
    due = [throttle.due(d, 10, t) for d, t in [(1, 0.0), (2, 0.1), (3, 0.3), (4, 0.4), (10, 0.45)]]
    assert due == [True, False, True, False, True]


def test_bar_words_the_same_figures():
    out = io.StringIO()
    bar = ProgressBar(every=5, stream=out)
    bar(45, 150, 9.0)
    line = out.getvalue()
    assert line.startswith("\r[########....................] 45/150 frames  1.0 analysed/s")
    assert "ETA 0:21" in line
    bar.finish()
    assert out.getvalue().endswith("\n")
    bar.finish()  # nothing more to end
    assert out.getvalue().count("\n") == 1
