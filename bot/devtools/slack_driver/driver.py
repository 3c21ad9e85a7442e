"""Build signed Slack requests the way Slack sends them, and deliver them over HTTP.

``SlackDriver`` makes Events API envelopes (JSON), slash commands (form bodies) and interactivity
payloads (``payload=<json>`` form bodies), each signed with the app's signing secret
(``v0`` HMAC-SHA256 over ``v0:<timestamp>:<body>``). A request comes back as a
:class:`Prepared` (``body, headers = prepared``) to feed ``slack_bolt.App.dispatch`` in-process,
or is POSTed to the bridge's ``/slack/events`` URL with :meth:`SlackDriver.post` /
:meth:`Prepared.post`. Payload shapes follow the captures in ``slack-fixtures/``.
"""

from __future__ import annotations

from bot.devtools.slack_driver.events import EventPayloads
from bot.devtools.slack_driver.interactions import InteractionPayloads


class SlackDriver(EventPayloads, InteractionPayloads):
    """Plays Slack's side of HTTP mode for one app in one workspace.

    ``clock`` gives the request timestamps (and event times); pass one that lags by more than
    five minutes to produce requests a verifier must reject as stale.
    ``response_url_factory`` makes the default ``response_url`` of commands, actions and message
    shortcuts; it is called with ``channel=`` (and ``message_ts=`` for block actions), which
    ``SlackStandIn.response_url`` accepts. Without it they point at hooks.slack.com.
    """
