"""The staff side of campaigns (under /campanas/); the public side is campaigns.urls.public."""

app_name = "campaigns"

urlpatterns: list = []
