"""Privacy: forgetting one customer, retention of quiet conversations, and the Slack clean-up.

`identify` reads what a person typed (number, BSUID, username) and finds that customer's
chats; `erasure` plans an erasure (the rows go in one transaction, journaled) and finishes its
Slack clean-up (`cleanup`); `retention` feeds it the conversations quiet for too long;
`command` is `wati-bridge forget`. The SQL is in `bot.store.privacy`.
"""
