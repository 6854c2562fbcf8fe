"""The rules of an English ascending auction lot (拍卖 / 网络竞价), pure: no database, no clock, no I/O.

The services lock a lot's row, load its state into these values, apply `place_bid` or `set_proxy`,
and write back what they return; everything a bid can do to a lot is decided here, and tested here
without a database (tests/unit/test_auction_rules.py, with property tests over random bid sequences).

- The grid: the first bid is at least the starting price; every later amount is on the grid that
  starts there and climbs by the increment of the band the current amount is in (a fixed increment
  is one band from 0). A bid must be on the grid and at least the next grid amount above the price.
- A bid is refused with a reason: `lot_not_open`, `lot_closed`, `not_registered` (the service's
  check), `already_leading`, `bid_too_low`, `off_increment`.
- Proxy bids (代理出价): a maximum left by a bidder, never shown to others. Whenever the price moves,
  the standing proxies answer at once with the lowest grid amount that puts them ahead, up to their
  maximum; of two equal maximums the earlier leads. Their bids are ordinary bids.
- Anti-sniping: a bid accepted within `window` seconds of the end moves the end to its time plus
  the window, again and again.
- The reserve (保留价) is never shown: only whether it is met. A lot without one (无保留) sells to its
  highest bid.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

REASONS = ("bid_too_low", "off_increment", "lot_closed", "lot_not_open", "not_registered", "already_leading")
MAX_AUTOMATIC_BIDS = 1000  # a proxy war settles in two bids per challenger; this only bounds a bug


@dataclass(frozen=True)
class Increment:
    """Bands of (from_fen, increment_fen), the first from 0, ascending: the increment that applies to
    an amount is that of the last band starting at or below it."""

    bands: tuple[tuple[int, int], ...]

    @classmethod
    def fixed(cls, increment_fen: int) -> Increment:
        return cls(((0, increment_fen),))

    def __post_init__(self):
        if not self.bands or self.bands[0][0] != 0:
            raise ValueError("the first band starts at 0")
        if any(low >= high for (low, _), (high, _) in zip(self.bands, self.bands[1:], strict=False)):
            raise ValueError("bands ascend")
        if any(increment <= 0 for _, increment in self.bands):
            raise ValueError("increments are positive")

    def step(self, amount: int) -> int:
        out = self.bands[0][1]
        for start, increment in self.bands:
            if start <= amount:
                out = increment
            else:
                break
        return out


def _walk(start: int, increment: Increment, amount: int) -> tuple[int, int]:
    """(a grid point at or below `amount`, the step from it) such that the grid continues from that
    point by that step past `amount`: band by band, not step by step (a low increment under a high
    price is many steps). Requires amount >= start."""
    point, bands = start, increment.bands
    while True:
        index = max(i for i, (low, _) in enumerate(bands) if low <= point)
        step = bands[index][1]
        if index + 1 == len(bands):
            return point, step
        upper = bands[index + 1][0]
        exit_point = point + ((upper - 1 - point) // step) * step + step  # the first point past this band
        if amount < exit_point:
            return point, step
        point = exit_point


def next_on_grid(start: int, increment: Increment, amount: int) -> int:
    """The smallest grid amount above `amount` (the grid: start, then + the increment of each
    amount's band)."""
    if amount < start:
        return start
    point, step = _walk(start, increment, amount)
    return point + ((amount - point) // step + 1) * step


def floor_on_grid(start: int, increment: Increment, amount: int) -> int | None:
    """The largest grid amount at or below `amount` (None below the start)."""
    if amount < start:
        return None
    point, step = _walk(start, increment, amount)
    return point + ((amount - point) // step) * step


def on_grid(start: int, increment: Increment, amount: int) -> bool:
    return floor_on_grid(start, increment, amount) == amount


@dataclass(frozen=True)
class Lot:
    starting_price_fen: int
    increment: Increment
    reserve_price_fen: int | None  # None: 无保留
    window: timedelta  # anti-sniping
    status: str = "open"  # pending | open | sold | unsold | withdrawn


@dataclass(frozen=True)
class Proxy:
    bidder: str
    max_amount_fen: int
    placed: int  # order of placing (or of raising): the earlier wins a tie


@dataclass(frozen=True)
class Bid:
    bidder: str
    amount_fen: int
    automatic: bool


@dataclass(frozen=True)
class Standing:
    price_fen: int | None  # the highest accepted bid
    leader: str | None
    ends_at: datetime
    proxies: tuple[Proxy, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Outcome:
    accepted: tuple[Bid, ...]  # in order; empty when refused
    standing: Standing
    reason: str | None = None


def min_next_bid(lot: Lot, price_fen: int | None) -> int:
    if price_fen is None:
        return lot.starting_price_fen
    return next_on_grid(lot.starting_price_fen, lot.increment, price_fen)


def reserve_met(lot: Lot, price_fen: int | None) -> bool:
    return price_fen is not None and (lot.reserve_price_fen is None or price_fen >= lot.reserve_price_fen)


def closed_at(lot: Lot, standing: Standing, now: datetime) -> bool:
    return lot.status in ("sold", "unsold", "withdrawn") or now >= standing.ends_at


def refusal(lot: Lot, standing: Standing, bidder: str, amount_fen: int, now: datetime) -> str | None:
    """Why a bid cannot be accepted now, or None."""
    if lot.status == "pending":
        return "lot_not_open"
    if closed_at(lot, standing, now):
        return "lot_closed"
    if standing.leader == bidder:
        return "already_leading"
    if amount_fen < min_next_bid(lot, standing.price_fen):
        return "bid_too_low"
    if not on_grid(lot.starting_price_fen, lot.increment, amount_fen):
        return "off_increment"
    return None


def extended(ends_at: datetime, now: datetime, window: timedelta) -> datetime:
    """Anti-sniping: a bid within the window before the end moves the end to its time plus the window."""
    return max(ends_at, now + window) if ends_at - now < window else ends_at


def place_bid(lot: Lot, standing: Standing, bidder: str, amount_fen: int, now: datetime) -> Outcome:
    """A manual bid: refused with a reason, or accepted, followed by the proxies' answers."""
    reason = refusal(lot, standing, bidder, amount_fen, now)
    if reason is not None:
        return Outcome((), standing, reason)
    bids = [Bid(bidder, amount_fen, False)]
    standing = replace(standing, price_fen=amount_fen, leader=bidder,
                       ends_at=extended(standing.ends_at, now, lot.window))
    return _answer(lot, standing, bids, now)


def set_proxy(lot: Lot, standing: Standing, bidder: str, max_amount_fen: int, placed: int,
              now: datetime) -> Outcome:
    """Leave or raise a maximum. It may only go up (a maximum is a promise to the seller); it must reach
    the next bid; a new maximum of a bidder who does not lead bids at once."""
    if lot.status == "pending":
        return Outcome((), standing, "lot_not_open")
    if closed_at(lot, standing, now):
        return Outcome((), standing, "lot_closed")
    own = next((p for p in standing.proxies if p.bidder == bidder), None)
    if own is not None and max_amount_fen <= own.max_amount_fen:
        return Outcome((), standing, "bid_too_low")
    if standing.leader != bidder and max_amount_fen < min_next_bid(lot, standing.price_fen):
        return Outcome((), standing, "bid_too_low")
    if standing.leader == bidder and max_amount_fen <= (standing.price_fen or 0):
        return Outcome((), standing, "bid_too_low")
    # A raised maximum is a new promise: it ranks from now in a tie, like a new one.
    proxies = tuple(p for p in standing.proxies if p.bidder != bidder) + (Proxy(bidder, max_amount_fen, placed),)
    return _answer(lot, replace(standing, proxies=proxies), [], now)


def _answer(lot: Lot, standing: Standing, bids: list[Bid], now: datetime) -> Outcome:
    """The standing proxies answer until none can get ahead: each challenger settles with the leader's
    own proxy in at most three bids, bidders alternating (the weaker's proxy goes to its maximum on the
    grid, the stronger answers one step above), then the next challenger, if any, tries the new
    leader. A proxy never bids against its own lead."""
    start, increment = lot.starting_price_fen, lot.increment

    def bid(who: str, amount: int) -> None:
        nonlocal standing
        bids.append(Bid(who, amount, True))
        standing = replace(standing, price_fen=amount, leader=who,
                           ends_at=extended(standing.ends_at, now, lot.window))

    def rank(p: Proxy) -> tuple[int, int]:
        return p.max_amount_fen, -p.placed

    for _ in range(MAX_AUTOMATIC_BIDS):
        need = min_next_bid(lot, standing.price_fen)
        challengers = [p for p in standing.proxies if p.bidder != standing.leader and p.max_amount_fen >= need]
        if not challengers:
            break
        challenger = max(challengers, key=rank)
        defender = next((p for p in standing.proxies if p.bidder == standing.leader), None)
        if defender is None or defender.max_amount_fen < need:
            bid(challenger.bidder, need)  # nothing defends the lead: the lowest amount that takes it
            continue
        if rank(challenger) > rank(defender):
            # The defender's proxy goes to its top on the grid (shown by the challenger's bid one step
            # below, which it answers), and the challenger answers one step above, if it can.
            top = floor_on_grid(start, increment, defender.max_amount_fen)
            below = floor_on_grid(start, increment, top - 1)
            if below is None or below < need:  # the defender's top is the next amount: the challenger takes it
                bid(challenger.bidder, top)
                continue
            bid(challenger.bidder, below)
            bid(defender.bidder, top)
            answer = min_next_bid(lot, top)
            if answer > challenger.max_amount_fen:
                break  # no grid amount between the two maximums: the defender keeps the lead
            bid(challenger.bidder, answer)
        else:
            # The challenger goes to its top on the grid and the defender answers one step above; if both
            # maximums end on the same grid amount, the defender (stronger, or equal and earlier) holds it.
            top = floor_on_grid(start, increment, challenger.max_amount_fen)
            answer = min_next_bid(lot, top)
            if answer <= defender.max_amount_fen:
                bid(challenger.bidder, top)
                bid(defender.bidder, answer)
                continue
            below = floor_on_grid(start, increment, top - 1)
            if below is not None and below >= need:
                bid(challenger.bidder, below)
                bid(defender.bidder, top)
                continue
            break  # no amount puts the challenger ahead of an earlier equal maximum
    return Outcome(tuple(bids), standing)


def result(lot: Lot, standing: Standing) -> tuple[str, str | None, int | None]:
    """At the (extended) end: ("sold", the leader, the price) or ("unsold", None, None)."""
    if reserve_met(lot, standing.price_fen):
        return "sold", standing.leader, standing.price_fen
    return "unsold", None, None
