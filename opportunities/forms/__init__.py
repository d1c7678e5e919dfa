"""Forms of the sales app, by area."""
