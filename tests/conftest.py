"""Options shared by every test tier."""

pytest_plugins = ["tests.tiers", "tests.seed_document"]


def pytest_addoption(parser):
    parser.addoption(
        "--lvm-host",
        default="lab",
        help="where end-to-end tests run real LVM: lab (default), local, vagrant, or ssh://[user@]host[:port]",
    )
