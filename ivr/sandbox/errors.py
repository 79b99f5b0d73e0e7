"""The one exception the sandbox raises."""


class SandboxError(RuntimeError):
    """Something kept the sandbox Asterisk from working; the message says what and what to do."""
