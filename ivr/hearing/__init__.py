"""Hearing: a call's audio frames in, utterances out; pure, no I/O, on the stream's own clock.

``core.HearingCore`` runs the voice detector (``vad``), the gain control (``gain``) and the
endpointer (``endpointer``) and says what the recognizer must decode; ``heard`` holds what
it is asked for (``Listening``) and what it reports (``Heard``).
"""
