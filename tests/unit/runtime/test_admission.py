"""Admission control: a ceiling on the calls heard at once."""

from __future__ import annotations

from ivr.runtime.admission import Admission


def test_calls_beyond_the_ceiling_are_refused_until_one_ends() -> None:
    admission = Admission(2)
    assert [admission.admit() for _ in range(3)] == [True, True, False]
    assert (admission.heard, admission.refused) == (2, 1)
    admission.release()
    assert admission.admit() and admission.heard == 2


def test_no_ceiling_admits_every_call() -> None:
    admission = Admission(None)
    assert all(admission.admit() for _ in range(1000)) and admission.refused == 0
