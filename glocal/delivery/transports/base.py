"""What every transport reports: a failure that is permanent (stop) or temporary (retry with backoff).

Shaped like Healthchecks' ``TransportError(message, permanent=False)``, with the SMTP reply code and the
RFC 3463 enhanced status code when there is one, and ``unknown_outcome`` for the one case where the
message may have been delivered although the transport saw an error (a connection lost after the
final "." of SMTP DATA, or a timeout after an HTTP request was sent): the engine counts it as a possible
duplicate instead of simply retrying blind.
"""

from __future__ import annotations


class TransportError(Exception):
    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        code: int | None = None,
        enhanced: str | None = None,
        unknown_outcome: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code
        self.enhanced = enhanced
        self.unknown_outcome = unknown_outcome

    def __repr__(self) -> str:
        return (
            f"TransportError({self.message!r}, permanent={self.permanent}, code={self.code}, "
            f"enhanced={self.enhanced!r}, unknown_outcome={self.unknown_outcome})"
        )
