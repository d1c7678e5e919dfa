"""Every read of the sales app, by area: activities, pipeline, forecast, tiers."""
