"""wati-bridge: serve WhatsApp customers from Slack through Wati."""

__version__ = "0.1.0"
