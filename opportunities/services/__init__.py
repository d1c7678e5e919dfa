"""Every write of the sales app, by area: activities, pipeline, quotes, forecast, tiers."""
