from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from crm.core.forms import SearchForm
from crm.top.dashboards import home_for
from crm.top.search import global_search


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "crm/home.html", home_for(user=request.user))


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    # The navbar's suggestions show a few; the page itself shows more.
    results = global_search(user=request.user, query=query, limit=8 if request.htmx else 25)
    template = "crm/search.html#search-results" if request.htmx else "crm/search.html"
    return render(request, template, {"results": results, "search_query": query, "form": form})
