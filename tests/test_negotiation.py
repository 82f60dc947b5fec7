"""The short cut of content negotiation picks exactly what DRF's own would."""

import pytest
from django.http import Http404
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from cacheadmin.negotiation import ContentNegotiation

RENDERER_LISTS = [[JSONRenderer(), BrowsableAPIRenderer()], [BrowsableAPIRenderer(), JSONRenderer()]]
ACCEPTS = [None, "", "*/*", "application/json", "text/html", "text/html,*/*;q=0.8", "application/json; indent=2"]


@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("renderers", RENDERER_LISTS, ids=["json-first", "html-first"])
@pytest.mark.parametrize("query", ["", "?format=api", "?format=json"])
def test_same_choice_as_drf_but_a_named_format_wins(accept, renderers, query):
    """DRF's choice, except that ?format= is served whatever Accept says (DRF: 406)."""
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get("/x/" + query, **headers))
    expected = choice(DefaultContentNegotiation(), request, renderers)
    if query:
        named = JSONRenderer if query.endswith("json") else BrowsableAPIRenderer
        expected = (named, named.media_type)
    assert choice(ContentNegotiation(), request, renderers) == expected


def test_an_unknown_format_is_drfs_404():
    request = Request(APIRequestFactory().get("/x/?format=xml"))
    with pytest.raises(Http404):
        ContentNegotiation().select_renderer(request, RENDERER_LISTS[0])


def choice(negotiation, request, renderers):
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except NotAcceptable:
        return "406"
    return type(renderer), media_type


def test_the_short_cut_is_taken_for_plain_json():
    request = Request(APIRequestFactory().get("/x/", HTTP_ACCEPT="application/json"))

    class Refusing(ContentNegotiation):
        def _get_parsed_accept_list(self, request):
            raise AssertionError("parsed the Accept header")

    assert Refusing().select_renderer(request, RENDERER_LISTS[0])[1] == "application/json"
