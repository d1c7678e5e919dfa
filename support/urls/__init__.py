from support.urls import comments, dashboard, surveys, tickets

app_name = "support"

urlpatterns = [
    *tickets.urlpatterns,
    *comments.urlpatterns,
    *surveys.urlpatterns,
    *dashboard.urlpatterns,
]
