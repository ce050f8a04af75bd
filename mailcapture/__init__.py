"""mailcapture: capture mail over SMTP, browse it over a Mailpit-compatible API."""

__version__ = "0.1.0"
