"""The 365-day window all sample timestamps fall in, and the timestamp formats of the sources."""

import itertools
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

WINDOW_DAYS = 365
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

# Local hours of business activity, weighted towards the working day.
_HOURS = tuple(range(7, 22))
_HOUR_CUMULATIVE = tuple(itertools.accumulate((2, 6, 9, 10, 10, 8, 9, 10, 9, 8, 6, 4, 3, 2, 1)))


@dataclass(frozen=True)
class Window:
    """The half-open interval [start, end) of naive UTC datetimes before ``as_of``.

    Attributes:
        start: ``as_of`` midnight minus 365 days.
        end: ``as_of`` midnight; nothing is generated at or after it.
        last: The latest second a record may carry.
    """

    start: datetime
    end: datetime
    last: datetime

    @classmethod
    def ending(cls, as_of: date) -> "Window":
        """Return the window of the 365 days before ``as_of``."""
        end = datetime.combine(as_of, time())
        return cls(end - timedelta(days=WINDOW_DAYS), end, end - timedelta(seconds=1))

    def at(self, days: float) -> datetime:
        """Return the moment ``days`` after the start, to the second."""
        return self.start + timedelta(seconds=round(days * 86400))

    def clamp(self, moment: datetime) -> datetime:
        """Return ``moment`` moved into the window."""
        return min(max(moment, self.start), self.last)

    def uniform(self, rng: random.Random, lo: datetime, hi: datetime) -> datetime:
        """Return a moment uniformly in [lo, hi] intersected with the window, to the second."""
        lo, hi = self.clamp(lo), self.clamp(hi)
        if hi <= lo:
            return lo
        return lo + timedelta(seconds=rng.randrange(int((hi - lo).total_seconds()) + 1))

    def working(self, rng: random.Random, lo: datetime, hi: datetime, utc_offset: float) -> datetime:
        """Return a moment in [lo, hi] at a plausible local working hour, where the range allows one.

        Args:
            rng: Random source.
            lo: Earliest moment.
            hi: Latest moment.
            utc_offset: Hours the local business day is ahead of UTC.

        Returns:
            A naive UTC datetime inside the window.
        """
        moment = self.uniform(rng, lo, hi)
        offset = timedelta(hours=utc_offset)
        local_day = datetime.combine((moment + offset).date(), time())
        hour = rng.choices(_HOURS, cum_weights=_HOUR_CUMULATIVE)[0]
        snapped = local_day - offset + timedelta(hours=hour, seconds=rng.randrange(3600))
        lo, hi = self.clamp(lo), self.clamp(hi)
        return snapped if lo <= snapped <= hi else moment


def iso_z(moment: datetime) -> str:
    """Format as ``2026-05-01T10:00:00Z``."""
    return moment.isoformat(timespec="seconds") + "Z"


def iso_ms(moment: datetime) -> str:
    """Format as ``2026-05-01T10:00:00.123Z`` (Segment)."""
    return moment.isoformat(timespec="milliseconds") + "Z"


def iso_offset(moment: datetime) -> str:
    """Format as ``2026-05-01T10:00:00+00:00`` (the video-ad platform's export)."""
    return moment.isoformat(timespec="seconds") + "+00:00"
