"""Delivery engine: pure cores (windows, pressure, bounces, tokens) and transports (SMTP, SMS over HTTP)."""
