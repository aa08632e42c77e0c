"""The status line of `pingan run`: rewritten in place on a terminal, one line each into a pipe."""

from __future__ import annotations

import io

from pingan.run_status import PIPE_EVERY_SECONDS, RunStatus, StatusLine


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


STATUS = RunStatus(
    events_per_second=1234.4,
    alerts_new=3,
    alerts_updated=12,
    lag=2500,
    console="http://127.0.0.1:6066/",
)


def test_status_names_rate_alerts_lag_and_console() -> None:
    assert STATUS.render() == (
        "events 1,234/s · alerts 3 new, 12 updated · lag 2,500 · http://127.0.0.1:6066/"
        " · Ctrl-C stops"
    )


def test_rule_failures_are_shown_once_there_are_some() -> None:
    failing = RunStatus(10.0, 0, 0, 0, "http://127.0.0.1:6066/", rule_failures=2)
    assert "lag 0 · rule failures 2 · http" in failing.render()


def test_lag_not_read_yet_is_shown_as_unknown() -> None:
    unread = RunStatus(0.0, 0, 0, None, "http://127.0.0.1:6066/")
    assert "lag … " in unread.render()


def test_terminal_line_is_rewritten_in_place_then_left_on_screen() -> None:
    terminal = Terminal()
    line = StatusLine(terminal)
    line.show("first")
    line.show("second")
    line.end()
    shown = terminal.getvalue()
    assert shown.count("\r\x1b[K") == 2
    assert "\n" not in shown.removesuffix("\n")
    assert shown.endswith("second\n")


def test_pipe_gets_one_timestamped_line_per_interval() -> None:
    pipe = io.StringIO()
    line = StatusLine(pipe)
    line.show("first")
    line.show("second")
    line.end()
    lines = pipe.getvalue().splitlines()
    assert line.every_seconds == PIPE_EVERY_SECONDS
    assert [text.split(" ", 1)[1] for text in lines] == ["first", "second"]
    assert "\r" not in pipe.getvalue()


def test_a_closed_pipe_silences_the_status_line_instead_of_stopping_the_run() -> None:
    """`pingan run | tee log` with tee killed: the next status write meets a broken pipe."""

    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    line = StatusLine(ClosedPipe())
    line.show("events 200/s")
    line.show("events 201/s")
    line.end()
