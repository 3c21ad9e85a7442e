"""A local Slack stand-in on loopback, for tests and ``wati-bridge demo``.

``server.SlackStandIn`` is the front door. Point a real ``slack_sdk.WebClient(base_url=
standin.api_url)`` at it. It keeps a small workspace (channels, users, messages, threads,
reactions, files, views), answers with Slack's response shapes and error codes, records every
call, and can be told to fail the next calls (429 with ``Retry-After``, ``ok: false`` or 500) or
to hold the next one, applied or not, until released (``hold_next``, for crash tests). Only the
tokens it was given are accepted, and scopes are enforced the way Slack does
(``missing_scope``), so a manifest that lacks a scope shows up here.

Modules by Web API family: ``auth``, ``chat``, ``reactions``, ``conversations`` (and
``users.info``), ``views``, ``files``, ``responses`` (response URLs); ``api`` dispatches a
request, ``faults`` queues failures and holds, ``workspace`` owns the state, ``inspection`` is
what tests read back.

Deliberate simplifications: one workspace, one app, file shares complete synchronously,
pagination cursors are offsets. Event delivery over HTTP is ``bot.devtools.slack_driver``'s job.
"""
