"""Every search filter, negation, LIKE escaping, ordering and page totals."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mailcapture.errors import BadRequest
from mailcapture.mime.model import KIND_INLINE, Address
from mailcapture.search import Query, Term, parse
from mailcapture.storage.sqlite import SQLiteStore

from .builders import BASE_TIME, Spec, attachment, build

SAMPLES = {
    # name: spec (created one hour apart, in this order)
    "plain": Spec(subject="Weekly report", text="numbers are up 100%", message_id="plain@acme.test",
                  from_=Address("Ann Lee", "ann@acme.test"), to=[Address("", "team@acme.test")]),
    "invoice": Spec(subject="Invoice 1000", text="please pay", message_id="inv-7@billing.test",
                    from_=Address("Billing", "billing@shop.test"), to=[Address("Bob", "bob@home.test")],
                    cc=[Address("Carol", "carol@acme.test")], bodies=[attachment(b"%PDF-1.4" * 100, filename="inv.pdf")],
                    tags=["Finance"]),
    "newsletter": Spec(subject="Ünïcode news_letter", text="café", message_id="news@list.test",
                       from_=Address("List", "news@list.test"), to=[Address("", "ann@acme.test")],
                       bcc=[Address("", "hidden@secret.test")], reply_to=[Address("Desk", "desk@list.test")],
                       bodies=[attachment(b"\x89PNG" + b"0" * 20_000, filename="logo.png", kind=KIND_INLINE)],
                       tags=["news", "Finance"]),
    "nofrom": Spec(subject="", text="", message_id="", from_=None, to=[]),
}


@pytest.fixture
async def ids(store: SQLiteStore) -> dict[str, str]:
    found: dict[str, str] = {}
    for hour, (name, spec) in enumerate(SAMPLES.items()):
        spec.created = BASE_TIME + timedelta(hours=hour)
        found[name] = await store.add(build(spec))
    await store.mark_read([found["plain"]], None, True)
    return found


async def search(store: SQLiteStore, ids: dict[str, str], text: str) -> set[str]:
    names = {v: k for k, v in ids.items()}
    page = await store.page(parse(text), 0, 100)
    assert page.matched == len(page.messages)
    return {names[m.id] for m in page.messages}


CASES = [
    ("report", {"plain"}),
    ("REPORT weekly", {"plain"}),
    ("100%", {"plain"}),  # % is literal, not a wildcard
    ("news_letter", {"newsletter"}),
    ("news%letter", set()),
    ("CAFÉ", {"newsletter"}),
    ("inv.pdf", {"invoice"}),
    ("from:ann", {"plain"}),
    ("from:\"ann lee\"", {"plain"}),
    ("from:billing@shop", {"invoice"}),
    ("to:ann@acme", {"newsletter"}),
    ("to:bob", {"invoice"}),
    ("cc:carol", {"invoice"}),
    ("bcc:hidden", {"newsletter"}),
    ("reply-to:desk", {"newsletter"}),
    ("addressed:carol", {"invoice"}),
    ("addressed:hidden@secret.test", {"newsletter"}),
    ("addressed:ann", {"newsletter"}),
    ("subject:invoice", {"invoice"}),
    ("subject:ünïcode", {"newsletter"}),
    ("message-id:inv-7@billing", {"invoice"}),
    ("tag:finance", {"invoice", "newsletter"}),
    ("tag:fin", set()),  # tags match whole names
    ("tag:news", {"newsletter"}),
    ("is:read", {"plain"}),
    ("is:unread", {"invoice", "newsletter", "nofrom"}),
    ("is:tagged", {"invoice", "newsletter"}),
    ("has:attachment", {"invoice"}),
    ("has:attachments", {"invoice"}),
    ("has:inline", {"newsletter"}),
    ("-has:attachment", {"plain", "newsletter", "nofrom"}),
    ("!tag:finance", {"plain", "nofrom"}),
    ("-is:tagged -is:read", {"nofrom"}),
    ("after:2026-01-01T12:30:00Z", {"invoice", "newsletter", "nofrom"}),
    ("before:2026-01-01T13:30:00Z", {"plain", "invoice"}),
    ("after:2026-01-01T12:30:00Z before:2026-01-01T14:30:00Z", {"invoice", "newsletter"}),
    ("larger:10k", {"newsletter"}),
    ("smaller:1k", {"plain", "nofrom"}),
    ("tag:finance has:inline", {"newsletter"}),
    ("nothing-matches-this", set()),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
async def test_filter(store: SQLiteStore, ids: dict[str, str], text: str, expected: set[str]) -> None:
    assert await search(store, ids, text) == expected


async def test_newest_first_with_ties_broken_by_insertion(store: SQLiteStore) -> None:
    ids = [await store.add(build(Spec(message_id=f"{n}@x", created=BASE_TIME))) for n in range(3)]
    later = await store.add(build(Spec(created=BASE_TIME + timedelta(seconds=1))))
    earlier = await store.add(build(Spec(created=BASE_TIME - timedelta(seconds=1))))
    page = await store.page(None, 0, 10)
    assert [m.id for m in page.messages] == [later, ids[2], ids[1], ids[0], earlier]
    assert await store.latest_id(None) == later
    assert await store.latest_id(parse("before:2026-01-01T12:00:00Z")) == earlier
    assert await store.latest_id(parse("tag:none")) is None


async def test_page_totals_and_paging(store: SQLiteStore, ids: dict[str, str]) -> None:
    page = await store.page(None, 0, 2)
    assert (page.total, page.unread, page.matched) == (4, 3, 4)
    assert [m.id for m in page.messages] == [ids["nofrom"], ids["newsletter"]]
    rest = await store.page(None, 2, 50)
    assert [m.id for m in rest.messages] == [ids["invoice"], ids["plain"]]
    filtered = await store.page(parse("tag:finance"), 1, 1)
    assert (filtered.total, filtered.unread, filtered.matched) == (4, 3, 2)
    assert [m.id for m in filtered.messages] == [ids["invoice"]]
    with pytest.raises(BadRequest):
        await store.page(None, -1, 10)


async def test_summary_fields(store: SQLiteStore, ids: dict[str, str]) -> None:
    page = await store.page(parse("subject:invoice"), 0, 1)
    (summary,) = page.messages
    spec = SAMPLES["invoice"]
    assert summary.from_ == spec.from_ and summary.to == spec.to and summary.cc == spec.cc
    assert summary.subject == "Invoice 1000" and summary.tags == ["Finance"]
    assert summary.attachments == 1 and not summary.read
    assert summary.created == spec.created and summary.created.tzinfo is not None
    assert summary.message_id == "inv-7@billing.test" and summary.snippet == "please pay"
    detail = await store.detail(ids["nofrom"])
    assert detail is not None and detail.from_ is None and detail.to == []
    invoice = await store.detail(ids["invoice"])
    assert invoice is not None and invoice.date == spec.created and invoice.date.utcoffset() == timedelta(hours=2)
    assert invoice.return_path == "billing@shop.test"
    assert await store.raw_range(ids["invoice"], 0, invoice.header_end) == build(spec).raw[: invoice.header_end]


async def test_an_unknown_filter_is_a_bad_request(store: SQLiteStore) -> None:
    with pytest.raises(BadRequest):
        await store.page(Query((Term("color", "red"),)), 0, 10)
    with pytest.raises(BadRequest):
        await store.page(Query((Term("larger", "big"),)), 0, 10)
