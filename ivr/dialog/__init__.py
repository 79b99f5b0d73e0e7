"""The per-call dialog engine: a pure state machine, events in, actions out.

It does no I/O and never reads a clock: every event carries the time it happened,
and the engine says when it next wants to be woken (``DialogEngine.deadline``).
Live calls, the simulator and the unit tests all drive the same engine, through the same
runtime (``ivr.runtime.conversation``).
"""
