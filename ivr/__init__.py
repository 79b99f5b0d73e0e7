"""speech-ivr: a speech-routing IVR for Asterisk (ARI + Vosk)."""

__version__ = "0.1.0"
