"""The staff side of campaigns (under /campanas/); the public side is campaigns.urls.public."""

from campaigns.urls import automations, campaigns, results, segments, sending, signup, suppression

app_name = "campaigns"

urlpatterns = [
    *segments.urlpatterns,
    *campaigns.urlpatterns,
    *sending.urlpatterns,
    *results.urlpatterns,
    *suppression.urlpatterns,
    *signup.urlpatterns,
    *automations.urlpatterns,
]
