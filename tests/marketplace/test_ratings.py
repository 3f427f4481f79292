"""Ratings and reviews: one per person, editable, not by the author; replies; reports; visibility."""

from __future__ import annotations

import pytest

from app.errors import Forbidden, InvalidRequest, NotFound
from marketplace.search import Filters
from tests.marketplace.helpers import person, publish


def test_one_editable_rating_per_person_and_the_average(services, ana, ben):
    listing, _ = publish(services, ana, visibility="public")
    eva = person(services, "eva@example.com")

    services.marketplace.rate(ben, listing.id, 4, "Useful")
    services.marketplace.rate(eva, listing.id, 2)
    services.marketplace.rate(ben, listing.id, 5, "Even better after v2")  # changes ben's, adds none

    detail = services.marketplace.get(ben, listing.id)
    assert (detail.listing.rating_count, detail.listing.rating_average) == (2, 3.5)
    assert detail.my_rating.stars == 5 and detail.my_rating.review == "Even better after v2"
    assert sorted(r.stars for r in detail.ratings) == [2, 5]


def test_authors_cannot_rate_their_own_listing(services, ana):
    listing, _ = publish(services, ana, visibility="public")
    with pytest.raises(Forbidden) as caught:
        services.marketplace.rate(ana, listing.id, 5)
    assert caught.value.code == "own_listing"
    assert services.marketplace.get(ana, listing.id).listing.rating_count == 0


def test_stars_are_one_to_five(services, ana, ben):
    listing, _ = publish(services, ana, visibility="public")
    for stars in (0, 6, -1):
        with pytest.raises(InvalidRequest):
            services.marketplace.rate(ben, listing.id, stars)


def test_only_the_author_replies(services, ana, ben):
    listing, _ = publish(services, ana, visibility="public")
    rating = services.marketplace.rate(ben, listing.id, 3, "Needs an English version")
    with pytest.raises(Forbidden):
        services.marketplace.reply(ben, listing.id, rating.id, "I agree with myself")

    replied = services.marketplace.reply(ana, listing.id, rating.id, "Added in version 2.")

    assert replied.reply == "Added in version 2." and replied.replied_at is not None
    with pytest.raises(NotFound):
        services.marketplace.reply(ana, listing.id, rating.id + 100, "no such review")


def test_workspace_listings_cannot_be_rated_or_seen_by_outsiders(services, ana, ben):
    listing, _ = publish(services, ana, visibility="workspace")
    with pytest.raises(NotFound):
        services.marketplace.rate(ben, listing.id, 5)
    with pytest.raises(NotFound):
        services.marketplace.get(ben, listing.id)
    assert services.marketplace.search(ben, Filters()) == []


def test_installs_are_counted(services, ana, ben):
    listing, _ = publish(services, ana, visibility="public")
    services.marketplace.install(ben, listing.id)
    services.marketplace.install(ben, listing.id)
    services.marketplace.install(ana, listing.id)
    assert services.marketplace.get(ben, listing.id).listing.installs == 3


def test_report_a_listing(services, ana, ben):
    listing, _ = publish(services, ana, visibility="public")
    with pytest.raises(InvalidRequest):
        services.marketplace.report(ben, listing.id, "i-do-not-like-it")

    services.marketplace.report(ben, listing.id, "spam", "Advertises a website")

    with pytest.raises(Forbidden):
        services.marketplace.reports(ben)
    reports = services.marketplace.reports(services.local_scope)  # instance administrators read them
    assert [(r["listing_id"], r["reason"], r["user_id"]) for r in reports] == [(listing.id, "spam", ben.user_id)]
