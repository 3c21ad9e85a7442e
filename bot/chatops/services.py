"""The chat-op services, built once (`build`, called by `service.build`) and handed to the
Slack listeners as one typed object, `Services`.

Each service does one job; none hands the store to a listener. The listeners get nothing
else: what they need from the bridge is a method of one of these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.base.clock import Clock
from bot.chatops.broadcasts import Broadcasts
from bot.chatops.bulk import Bulk
from bot.chatops.channels import Channels
from bot.chatops.conversations import Conversations
from bot.chatops.desk import Desk
from bot.chatops.directory import Directory
from bot.chatops.forwarding import Forwarding
from bot.chatops.home import Home, Members
from bot.chatops.marks import ParentMarks
from bot.chatops.notes import ThreadNotes
from bot.chatops.owners import Owners
from bot.chatops.saved import SavedReplies
from bot.chatops.status import ChatStatus
from bot.chatops.templates import Templates
from bot.chatops.waiting import WaitingClock
from bot.config import Settings
from bot.insights.picture import WeekPicture
from bot.ops.health import Health
from bot.privacy.erasure import Eraser
from bot.relay.budget import Budget
from bot.relay.outbound import Outbound
from bot.relay.threads import Threads
from bot.slack.poster import SlackPoster
from bot.slack.reader import SlackNames
from bot.store import Store
from bot.store.chats import Chat
from bot.survey.asking import Surveys
from bot.wati.client import WatiClient
from bot.wati.limits import Windows


@dataclass(frozen=True)
class Services:
    """What the Slack listeners may use."""

    conversations: Conversations
    status: ChatStatus
    templates: Templates
    forwarding: Forwarding
    contacts: Directory
    bulk: Bulk
    broadcasts: Broadcasts  # `/wati broadcast`: recorded here, sent by the bridge's job
    channels: Channels
    desk: Desk
    outbound: Outbound
    names: SlackNames
    surveys: Surveys
    admins: tuple[str, ...]  # BRIDGE_ADMINS; empty: the workspace's admins and owners
    first_sighting: Callable[[str], bool]  # True the first time a key (a form's submit) is seen
    eraser: Eraser  # `/wati forget` (bot.privacy)


def build(
    *,
    settings: Settings,
    store: Store,
    wati: WatiClient,
    poster: SlackPoster,
    threads: Threads,
    outbound: Outbound,
    names: SlackNames,
    budget: Budget,
    windows: Windows,
    clock: Clock,
    wake: Callable[..., Chat],
    health: Health | None = None,
    on_link: Callable[[str], object] | None = None,
    eraser: Eraser,
    keeps: str | None = None,
    run_broadcasts: Callable[[], None] = lambda: None,
) -> Services:
    """Every chat-op service, each given only what it uses."""
    notes = ThreadNotes(poster=poster)
    conversations = Conversations(store=store, threads=threads, clock=clock)
    contacts = Directory(store=store, wati=wati, window=windows.contacts)
    owners = Owners(
        store=store,
        wati=wati,
        threads=threads,
        poster=poster,
        names=names,
        clock=clock,
        assign_on_reply=settings.assign_on_reply,
    )
    desk = Desk(
        owners=owners,
        saved=SavedReplies(
            store=store,
            outbound=outbound,
            owners=owners,
            poster=poster,
            clock=clock,
            find_contact=contacts.find_contact,
        ),
        waiting=WaitingClock(
            store=store,
            threads=threads,
            poster=poster,
            clock=clock,
            target_minutes=settings.reply_target_minutes,
            hours=settings.business_hours,
        ),
        home=Home(
            store=store,
            budget=budget,
            client=poster.client,
            names=names,
            clock=clock,
            hours=settings.business_hours,
            members=Members(client=poster.client),
            picture=WeekPicture(
                store=store,
                client=poster.client,
                clock=clock,
                hours=settings.business_hours,
                ttl=settings.chart_minutes * 60,
            ),
        ),
        marks=ParentMarks(store=store, threads=threads),
    )
    status = ChatStatus(store=store, wati=wati, threads=threads, notes=notes, clock=clock)
    templates = Templates(
        store=store,
        wati=wati,
        threads=threads,
        notes=notes,
        outbound=outbound,
        wake=wake,
        clock=clock,
    )
    return Services(
        conversations=conversations,
        status=status,
        templates=templates,
        forwarding=Forwarding(outbound=outbound, notes=notes, conversations=conversations),
        contacts=contacts,
        bulk=Bulk(wati=wati),
        broadcasts=Broadcasts(
            store=store, wati=wati, poster=poster, clock=clock, run_soon=run_broadcasts
        ),
        channels=Channels(
            store=store, wati=wati, budget=budget, health=health, on_link=on_link, keeps=keeps
        ),
        desk=desk,
        outbound=outbound,
        names=names,
        surveys=Surveys(
            store=store,
            wati=wati,
            notes=notes,
            threads=threads,
            clock=clock,
            outbound=outbound,
            resolve=status.resolve,
            find_template=templates.named,
            template_name=settings.rating_template,
        ),
        admins=tuple(settings.admins),
        first_sighting=store.first_sighting,
        eraser=eraser,
    )
