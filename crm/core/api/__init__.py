"""The REST API's shared parts (issue 11): personal tokens and their scopes, authentication,
errors as RFC 9457 problem details, cursor pagination, ETags and sparse fields.

Each app serves its own resources (`<app>/api.py`: serializers and viewsets that read through
the app's selectors and write through its services), and crm.top puts them under `/api/v1/`.
"""
