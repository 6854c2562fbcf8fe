"""The pure rules of an auction lot: the grid, refusals, anti-sniping, proxies, the result; examples
and property tests over random bid sequences (no database)."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.auctions import rules as r

T0 = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)
BANDS = r.Increment(((0, 1_000), (50_000, 5_000), (200_000, 20_000)))
FIXED = r.Increment.fixed(1_000)


def lot(start=10_000, increment=FIXED, reserve=None, status="open"):
    return r.Lot(start, increment, reserve, WINDOW, status)


def standing(ends_in=timedelta(hours=1), proxies=()):
    return r.Standing(None, None, T0 + ends_in, tuple(proxies))


def reference_grid(start, increment, up_to):
    """The grid step by step, as the rule says it."""
    points, point = [], start
    while point <= up_to:
        points.append(point)
        point += increment.step(point)
    points.append(point)
    return points


# -- the grid ---------------------------------------------------------------------------------------------


def test_a_fixed_increment_grid():
    inc = r.Increment.fixed(1_000)
    assert r.next_on_grid(10_000, inc, 0) == 10_000
    assert r.next_on_grid(10_000, inc, 10_000) == 11_000
    assert r.next_on_grid(10_000, inc, 10_500) == 11_000
    assert r.floor_on_grid(10_000, inc, 10_999) == 10_000 and r.floor_on_grid(10_000, inc, 9_999) is None
    assert r.on_grid(10_000, inc, 25_000) and not r.on_grid(10_000, inc, 25_500)


def test_a_banded_grid_changes_step_where_the_price_enters_a_band():
    # 10,000 .. 49,000 by 1,000; 50,000 .. 195,000 by 5,000; then by 20,000 from 200,000.
    assert r.next_on_grid(10_000, BANDS, 49_000) == 50_000
    assert r.next_on_grid(10_000, BANDS, 50_000) == 55_000
    assert r.next_on_grid(10_000, BANDS, 199_000) == 200_000
    assert r.next_on_grid(10_000, BANDS, 200_000) == 220_000
    assert r.on_grid(10_000, BANDS, 48_000) and not r.on_grid(10_000, BANDS, 52_000)
    # A start off the bands' boundaries: 12,500 climbs by 1,000 to 50,500 (the step of 49,500 is 1,000),
    # then by 5,000 from there.
    assert r.next_on_grid(12_500, BANDS, 49_500) == 50_500
    assert r.next_on_grid(12_500, BANDS, 50_500) == 55_500
    assert r.on_grid(12_500, BANDS, 55_500) and not r.on_grid(12_500, BANDS, 55_000)


@settings(max_examples=300, deadline=None)
@given(start=st.integers(1, 60_000), steps=st.lists(st.integers(1, 9_000), min_size=1, max_size=4),
       lows=st.lists(st.integers(1, 300_000), min_size=3, max_size=3), amount=st.integers(0, 400_000))
def test_the_grid_by_bands_is_the_grid_step_by_step(start, steps, lows, amount):
    starts = [0] + sorted(set(lows))[: len(steps) - 1]
    increment = r.Increment(tuple(zip(starts, steps[: len(starts)], strict=True)))
    points = reference_grid(start, increment, max(amount, start))
    expected_next = next(p for p in points if p > amount)
    assert r.next_on_grid(start, increment, amount) == expected_next
    below = [p for p in points if p <= amount]
    assert r.floor_on_grid(start, increment, amount) == (below[-1] if below else None)
    assert r.on_grid(start, increment, amount) == (amount in points)


def test_bands_are_checked():
    with pytest.raises(ValueError):
        r.Increment(((100, 1_000),))
    with pytest.raises(ValueError):
        r.Increment(((0, 1_000), (0, 2_000)))
    with pytest.raises(ValueError):
        r.Increment(((0, 0),))


# -- bids ---------------------------------------------------------------------------------------------------


def test_refusals_each_with_its_reason():
    now = T0 + timedelta(minutes=1)
    s = standing()
    assert r.place_bid(lot(status="pending"), s, "A", 10_000, now).reason == "lot_not_open"
    assert r.place_bid(lot(status="sold"), s, "A", 10_000, now).reason == "lot_closed"
    assert r.place_bid(lot(), s, "A", 10_000, T0 + timedelta(hours=1)).reason == "lot_closed"  # at the end
    assert r.place_bid(lot(), s, "A", 9_000, now).reason == "bid_too_low"
    assert r.place_bid(lot(), s, "A", 10_500, now).reason == "off_increment"
    first = r.place_bid(lot(), s, "A", 10_000, now)
    assert first.reason is None and first.accepted == (r.Bid("A", 10_000, False),)
    assert r.place_bid(lot(), first.standing, "A", 11_000, now).reason == "already_leading"
    assert r.place_bid(lot(), first.standing, "B", 10_000, now).reason == "bid_too_low"  # same amount: first wins
    refused = r.place_bid(lot(), first.standing, "B", 11_500, now)
    assert refused.reason == "off_increment" and refused.standing == first.standing and refused.accepted == ()


def test_a_single_bid_at_the_starting_price_sells_a_lot_without_reserve():
    accepted = r.place_bid(lot(), standing(), "A", 10_000, T0)
    assert r.result(lot(), accepted.standing) == ("sold", "A", 10_000)
    assert r.result(lot(reserve=20_000), accepted.standing) == ("unsold", None, None)
    assert not r.reserve_met(lot(reserve=20_000), 10_000) and r.reserve_met(lot(reserve=20_000), 20_000)
    assert r.result(lot(), standing()) == ("unsold", None, None)  # no bid at all: 流拍


def test_anti_sniping_moves_the_end_again_and_again():
    s = standing(ends_in=timedelta(minutes=10))
    early = r.place_bid(lot(), s, "A", 10_000, T0 + timedelta(minutes=2))
    assert early.standing.ends_at == T0 + timedelta(minutes=10)  # 8 minutes left: no extension
    late = r.place_bid(lot(), early.standing, "B", 11_000, T0 + timedelta(minutes=7))
    assert late.standing.ends_at == T0 + timedelta(minutes=12)
    later = r.place_bid(lot(), late.standing, "A", 12_000, T0 + timedelta(minutes=11, seconds=59))
    assert later.standing.ends_at == T0 + timedelta(minutes=16, seconds=59)
    assert r.place_bid(lot(), later.standing, "B", 13_000, later.standing.ends_at).reason == "lot_closed"


# -- proxies -----------------------------------------------------------------------------------------------


def test_a_proxy_answers_a_bid_with_the_lowest_amount_that_leads():
    s = r.set_proxy(lot(), standing(), "A", 50_000, 1, T0).standing
    assert (s.leader, s.price_fen) == ("A", 10_000)  # a new maximum bids at once: the starting price
    answered = r.place_bid(lot(), s, "B", 20_000, T0)
    assert [(b.bidder, b.amount_fen, b.automatic) for b in answered.accepted] == [("B", 20_000, False),
                                                                                  ("A", 21_000, True)]
    over = r.place_bid(lot(), answered.standing, "B", 60_000, T0)
    assert [(b.bidder, b.amount_fen) for b in over.accepted] == [("B", 60_000)]  # past A's maximum


def test_two_proxies_settle_in_a_few_bids_and_the_earlier_wins_a_tie():
    s = r.set_proxy(lot(), standing(), "A", 30_000, 1, T0).standing
    # B is stronger: A's proxy goes to its maximum (answering B one step below it), B one step above.
    war = r.set_proxy(lot(), s, "B", 45_000, 2, T0)
    assert [(b.bidder, b.amount_fen) for b in war.accepted] == [("B", 29_000), ("A", 30_000), ("B", 31_000)]
    tie = r.set_proxy(lot(), war.standing, "C", 45_000, 3, T0)  # equal to B, later: B keeps the lead
    assert [(b.bidder, b.amount_fen) for b in tie.accepted] == [("C", 44_000), ("B", 45_000)]
    assert (tie.standing.leader, tie.standing.price_fen) == ("B", 45_000)
    weaker = r.set_proxy(lot(), tie.standing, "D", 45_500, 4, T0)  # no grid amount between: refused as too low
    assert weaker.reason == "bid_too_low"


def test_a_maximum_only_goes_up_and_must_reach_the_next_bid():
    s = r.set_proxy(lot(), standing(), "A", 30_000, 1, T0).standing
    assert r.set_proxy(lot(), s, "A", 20_000, 2, T0).reason == "bid_too_low"
    raised = r.set_proxy(lot(), s, "A", 40_000, 2, T0)
    assert raised.reason is None and raised.accepted == ()  # the leader raising its maximum bids nothing
    assert r.set_proxy(lot(), s, "B", 10_500, 3, T0).reason == "bid_too_low"
    assert r.set_proxy(lot(status="pending"), s, "B", 50_000, 3, T0).reason == "lot_not_open"


def test_a_proxy_whose_top_is_the_next_amount_is_taken_at_it():
    s = r.place_bid(lot(), standing(), "A", 10_000, T0).standing
    s = r.set_proxy(lot(), s, "A", 11_500, 1, T0).standing  # A's top on the grid: 11,000, the next amount
    taken = r.set_proxy(lot(), s, "B", 20_000, 2, T0)
    assert [(b.bidder, b.amount_fen) for b in taken.accepted] == [("B", 11_000)]  # A cannot answer on the grid


def test_an_equal_later_maximum_bids_nothing_when_no_amount_puts_it_ahead():
    s = r.place_bid(lot(), standing(), "A", 10_000, T0).standing
    s = r.set_proxy(lot(), s, "A", 11_000, 1, T0).standing
    later = r.set_proxy(lot(), s, "B", 11_000, 2, T0)  # 11,000 would tie A's earlier maximum
    assert later.reason is None and later.accepted == () and later.standing.leader == "A"


# -- property tests over random bid sequences -----------------------------------------------------------------

BIDDERS = ["A", "B", "C", "D", "E"]
action = st.tuples(st.sampled_from(["bid", "proxy"]), st.sampled_from(BIDDERS), st.integers(0, 40),
                   st.integers(0, 30))


@settings(max_examples=400, deadline=None)
@given(actions=st.lists(action, min_size=1, max_size=40), banded=st.booleans(), reserve=st.sampled_from(
    [None, 30_000, 120_000]))
def test_random_bid_sequences_keep_every_rule(actions, banded, reserve):
    the_lot = lot(increment=BANDS if banded else FIXED, reserve=reserve)
    s = standing(ends_in=timedelta(minutes=30))
    history: list[r.Bid] = []
    maxima: dict[str, int] = {}
    now = T0
    for order, (kind, bidder, steps, seconds) in enumerate(actions, start=1):
        now += timedelta(seconds=seconds * 20)
        before = s
        need = r.min_next_bid(the_lot, s.price_fen)
        amount = need
        for _ in range(steps % 5):
            amount = r.next_on_grid(the_lot.starting_price_fen, the_lot.increment, amount)
        if steps % 7 == 6:
            amount += 1  # off the grid
        if kind == "bid":
            out = r.place_bid(the_lot, s, bidder, amount, now)
        else:
            out = r.set_proxy(the_lot, s, bidder, amount + steps * 3_000, order, now)
        if out.reason is not None:
            assert out.reason in r.REASONS and out.accepted == () and out.standing == before
            continue
        if kind == "proxy":
            maxima[bidder] = amount + steps * 3_000
        s = out.standing
        for bid in out.accepted:
            # Every accepted amount is on the grid, above the one before, by another bidder than the leader.
            assert r.on_grid(the_lot.starting_price_fen, the_lot.increment, bid.amount_fen)
            if history:
                assert bid.amount_fen >= r.min_next_bid(the_lot, history[-1].amount_fen)
                assert bid.bidder != history[-1].bidder
            else:
                assert bid.amount_fen >= the_lot.starting_price_fen
            if bid.automatic:
                assert bid.amount_fen <= maxima[bid.bidder]  # never above a maximum
            history.append(bid)
        if out.accepted:
            assert s.ends_at >= now + WINDOW or s.ends_at == before.ends_at
            assert s.ends_at >= before.ends_at
        assert (s.leader, s.price_fen) == ((history[-1].bidder, history[-1].amount_fen) if history else (None, None))
        # No standing proxy of another bidder could still take the lead on the grid.
        need = r.min_next_bid(the_lot, s.price_fen)
        for proxy in s.proxies:
            if proxy.bidder != s.leader and proxy.max_amount_fen >= need:
                leader_proxy = next(p for p in s.proxies if p.bidder == s.leader)
                assert (leader_proxy.max_amount_fen, -leader_proxy.placed) >= (proxy.max_amount_fen, -proxy.placed) \
                    or r.floor_on_grid(the_lot.starting_price_fen, the_lot.increment, proxy.max_amount_fen) \
                    <= s.price_fen
    amounts = [b.amount_fen for b in history]
    assert amounts == sorted(set(amounts))  # strictly increasing: no two accepted bids share an amount
    outcome = r.result(the_lot, s)
    if history and (reserve is None or history[-1].amount_fen >= reserve):
        assert outcome == ("sold", history[-1].bidder, history[-1].amount_fen)
    else:
        assert outcome == ("unsold", None, None)
