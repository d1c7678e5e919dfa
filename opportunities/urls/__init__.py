from opportunities.urls import activities, forecast, pipeline

app_name = "opportunities"

urlpatterns = [*activities.urlpatterns, *pipeline.urlpatterns, *forecast.urlpatterns]
