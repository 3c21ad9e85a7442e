"""Wati webhooks: the fast path beside polling (receiver, hub, trust, registration)."""
