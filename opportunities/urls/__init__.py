from opportunities.urls import activities, forecast, leads, pipeline

app_name = "opportunities"

urlpatterns = [
    *activities.urlpatterns,
    *pipeline.urlpatterns,
    *forecast.urlpatterns,
    *leads.urlpatterns,
]
