"""`reels demo`'s options, as the README's Commands table lists them."""

from __future__ import annotations

from typer.testing import CliRunner

from reels.cli import app


def test_demo_takes_host_port_reels_and_users() -> None:
    result = CliRunner().invoke(app, ["demo", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for option in ("--host", "--port", "--reels", "--users"):
        assert option in result.output


def test_demo_refuses_a_size_it_cannot_seed_before_doing_anything() -> None:
    result = CliRunner().invoke(app, ["demo", "--reels", "0"], terminal_width=200)
    assert result.exit_code == 2 and "--reels" in result.output
