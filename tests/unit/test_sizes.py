from __future__ import annotations

import pytest

from lvmkit.core.errors import UsageError
from lvmkit.core.sizes import human, parse_size


@pytest.mark.parametrize("text, expected", [
    ("5G", 5 * 1024**3), ("5g", 5 * 1024**3), ("512M", 512 * 1024**2), ("1.5G", 1536 * 1024**2),
    ("4096", 4096), ("64MiB", 64 * 1024**2), ("2t", 2 * 1024**4),
])
def test_parse_size_with_units_gives_binary_bytes(text, expected):
    assert parse_size(text) == expected


def test_parse_size_with_origin_percentage_takes_that_share():
    assert parse_size("20%ORIGIN", origin_bytes=1000 * 1024**2) == 200 * 1024**2
    assert parse_size("100%origin", origin_bytes=4096) == 4096


@pytest.mark.parametrize("text", ["", "five", "5X", "-5G", "0", "0M", "150%ORIGIN", "0%ORIGIN", "5G; rm -rf /"])
def test_parse_size_with_bad_text_raises_usage_error_with_example(text):
    with pytest.raises(UsageError, match=r"512M|5G|ORIGIN|positive"):
        parse_size(text, origin_bytes=1024)


def test_human_reads_binary_units():
    assert (human(512), human(1536), human(5 * 1024**3)) == ("512 B", "1.5 KiB", "5.0 GiB")
