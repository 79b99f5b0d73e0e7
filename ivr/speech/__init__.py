"""Speech: Vosk models shared per process, grammar-restricted recognizers, endpointing."""
