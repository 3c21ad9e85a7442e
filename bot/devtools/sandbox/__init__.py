"""A stateful local Wati stand-in on loopback (`wati-bridge sandbox`), standard library only.

    with Sandbox("sandbox.db") as wati:
        wati.customer_says("15550000001", "447700900123", "Hi!", name="Ana")
        # point the bridge at wati.api_endpoint with wati.token ...

The same v1 API shapes, rate limits, monthly quota and 24-hour rule as Wati (see api.py for
the shapes chosen where Wati's are unverified), a phone page at `/` for playing the customer,
and injectable faults (`sandbox.faults`, or `POST /_sandbox/faults`).
"""

from .core import Sandbox, serve
from .faults import KINDS, Faults

__all__ = ["KINDS", "Faults", "Sandbox", "serve"]
