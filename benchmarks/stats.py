"""Medians, spreads, ratios and a straight-line fit: what the tables report."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    """Repeated measurements of one thing (seconds, or a ratio)."""
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("a sample needs at least one value")

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def seconds(self) -> str:
        """'12.3 s (11.9-13.0)': the median, then the lowest and highest run."""
        return f"{self.median:.2f} s ({self.low:.2f}-{self.high:.2f})" if self.n > 1 else f"{self.median:.2f} s"

    def times(self) -> str:
        """A ratio: '1.042x (1.030-1.061)'."""
        return f"{self.median:.3f}x ({self.low:.3f}-{self.high:.3f})" if self.n > 1 else f"{self.median:.3f}x"


def sample(values) -> Sample:
    return Sample(tuple(float(v) for v in values))


def pair_ratios(numerators: Sample, denominators: Sample) -> Sample:
    """Ratio of each pair measured side by side (run i of one against run i of the other).

    On a noisy machine the pairs share the noise of their moment; the median of the pair
    ratios is steadier than the ratio of two medians.
    """
    if numerators.n != denominators.n:
        raise ValueError(f"pairs need as many runs on each side ({numerators.n} and {denominators.n})")
    return sample(a / b for a, b in zip(numerators.values, denominators.values, strict=True))


def throughput(mib: float, seconds: Sample) -> str:
    """MiB/s at the median time, with the range the runs give."""
    return f"{mib / seconds.median:.1f} MiB/s ({mib / seconds.high:.1f}-{mib / seconds.low:.1f})"


@dataclass(frozen=True)
class Line:
    """time = intercept + slope * size, fitted by least squares."""
    intercept: float
    slope: float
    worst_residual: float  # the largest |measured - fitted| / measured over the points

    def at(self, x: float) -> float:
        return self.intercept + self.slope * x


def fit_line(xs: list[float], ys: list[float]) -> Line:
    if len(xs) != len(ys) or len(set(xs)) < 2:
        raise ValueError("a line needs at least two different sizes")
    slope, intercept = statistics.linear_regression(xs, ys)
    worst = max(abs(y - (intercept + slope * x)) / y for x, y in zip(xs, ys, strict=True))
    return Line(intercept, slope, worst)
