"""What the user declares about model names in this process: the one place that state lives.

The encoder registry (:mod:`.registry`) and the remote-code permissions
(:mod:`.remote_code`) read and write :data:`declared`, under its lock.
"""

from __future__ import annotations

import threading

__all__ = ["Declarations", "declared"]


class Declarations:
    """What the user declares about model names in this process, under one lock.

    ``encoders``: (kind, name) -> the loader registered under that name
    (:func:`~.registry.register_alm`, :func:`~.registry.register_fm`); ``remote_code``:
    the models the user allowed to run code from their own repository
    (:func:`~.remote_code.allow_remote_code`).
    """

    def __init__(self):
        self.encoders: dict = {}  # (kind, name) -> registry entry
        self.remote_code: list[str] = []  # in the order given: allowing twice nests
        self.lock = threading.Lock()


declared = Declarations()
