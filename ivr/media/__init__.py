"""Media transports: every way of getting the caller's audio yields the same thing,
an async stream of 16 kHz 16-bit signed little-endian mono PCM bytes (no frame
boundaries promised). Wire formats are parsed by pure modules; the connection
modules around them only move bytes."""
