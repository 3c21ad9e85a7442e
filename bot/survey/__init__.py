"""Satisfaction: "Resolve and ask for a rating" — the question (`asking`), the customer's answer
read out of the relay (`answers`), what each looks like to the customer (`wording`)."""
