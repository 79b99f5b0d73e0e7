"""Admission control: a ceiling on the calls heard at once."""

from __future__ import annotations

from ivr.runtime.admission import CLAIM_DELAY_CAP, CLAIM_DELAY_PER_CALL, Admission


def test_calls_beyond_the_ceiling_are_refused_until_one_ends() -> None:
    admission = Admission(2)
    assert [admission.admit() for _ in range(3)] == [True, True, False]
    assert (admission.heard, admission.refused) == (2, 1)
    admission.release()
    assert admission.admit() and admission.heard == 2


def test_no_ceiling_admits_every_call() -> None:
    admission = Admission(None)
    assert all(admission.admit() for _ in range(1000)) and admission.refused == 0


def test_a_worker_claims_only_while_it_has_room_counting_claims_on_their_way() -> None:
    admission = Admission(2)
    assert admission.has_room() and admission.reserve()
    assert admission.admit()  # a plain Stasis() call takes the other place
    assert not admission.has_room() and not admission.reserve()
    admission.unreserve()  # the claimed call's StasisStart: its place is there to take
    assert admission.admit() and (admission.heard, admission.reserved) == (2, 0)
    admission.release()
    assert admission.reserve() and not admission.admit()  # the place is kept for the claim
    admission.unreserve()
    assert admission.reserved == 0 and admission.has_room()


def test_a_closing_worker_claims_nothing_even_without_a_ceiling() -> None:
    admission = Admission(None)
    assert all(admission.reserve() for _ in range(100))
    admission.closing = True
    assert not admission.has_room() and not admission.reserve()


def test_a_busier_worker_claims_a_little_later() -> None:
    idle, busy = Admission(None), Admission(None)
    for _ in range(4):
        busy.admit()
    assert idle.claim_delay() == 0 < busy.claim_delay() == 4 * CLAIM_DELAY_PER_CALL
    for _ in range(1000):
        busy.admit()
    assert busy.claim_delay() == CLAIM_DELAY_CAP
