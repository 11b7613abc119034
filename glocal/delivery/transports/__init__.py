"""Transports: one module per channel; each raises :class:`glocal.delivery.transports.base.TransportError`."""
