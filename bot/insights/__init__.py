"""How the team is doing: what replies cost (`spend`) and the week in figures and a chart
(`week`, `chart`, `picture`)."""
