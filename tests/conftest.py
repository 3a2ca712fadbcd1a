"""Options shared by every test tier."""

import signal

pytest_plugins = ["tests.tiers", "tests.seed_document"]


def pytest_addoption(parser):
    parser.addoption(
        "--lvm-host",
        default="lab",
        help="where end-to-end tests run real LVM: lab (default), local, vagrant, or ssh://[user@]host[:port]",
    )


def pytest_configure(config):
    # A run started in the background by a shell without job control (`cmd &` in a script, as
    # some CI runners do) inherits SIGINT ignored (POSIX), and Python then never raises
    # KeyboardInterrupt, nor do the lvmkit processes the tests start: the interruption tests
    # need the signal delivered as an operator's Ctrl-C would deliver it.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
