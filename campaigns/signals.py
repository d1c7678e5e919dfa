"""Receivers of django-anymail tracking events: bounces, complaints (connected in apps.ready).

The ESP's webhooks arrive at /m/anymail/<esp>/tracking/ (campaigns.urls.public), where anymail
checks ANYMAIL["WEBHOOK_SECRET"] (basic auth) and the ESP's signature, normalises the payload
and sends `anymail.signals.tracking`. This receiver only hands the event to the service; an
exception makes the webhook answer 500, which ESPs retry (the service is idempotent).
"""

from anymail.signals import tracking
from django.dispatch import receiver

from campaigns.services.tracking import esp_event_record


@receiver(tracking, dispatch_uid="campaigns.esp_tracking")
def esp_tracking_received(sender, event, esp_name: str, **kwargs) -> None:
    esp_event_record(event=event, esp_name=esp_name)
