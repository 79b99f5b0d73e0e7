"""Telephony: the thin asyncio shell around ARI (aioari) that drives calls."""
