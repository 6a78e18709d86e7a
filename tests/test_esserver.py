"""The Elasticsearch-compatible test server, driven by the official ``elasticsearch`` client."""
from __future__ import annotations

import base64
import http.client
import json
import socket
import threading
import time

import pytest
from elasticsearch import (
    ApiError,
    AuthenticationException,
    BadRequestError,
    ConnectionError as EsConnectionError,
    ConnectionTimeout,
    Elasticsearch,
    NotFoundError,
    UnsupportedProductError,
    helpers,
)

from tests.esserver import FakeElasticsearch

COMPAT8 = "application/vnd.elasticsearch+json; compatible-with=8"
TEMPLATE_MAPPINGS = {
    "properties": {
        "cluster": {"type": "keyword"},
        "phase": {"type": "keyword"},
        "duration_seconds": {"type": "double"},
        "attempts": {"type": "long"},
        "start": {"type": "date"},
        "note": {"type": "text"},
    }
}


@pytest.fixture
def server():
    srv = FakeElasticsearch().start()
    yield srv
    srv.stop()


def make_client(srv: FakeElasticsearch, **kwargs) -> Elasticsearch:
    kwargs.setdefault("request_timeout", 5)
    return Elasticsearch(srv.url, **kwargs)


@pytest.fixture
def es(server):
    client = make_client(server)
    yield client
    client.close()


def raw(srv: FakeElasticsearch, method: str, path: str, body: bytes | None = None,
        headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One request without the client (to see exactly what the server answers)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def timing_doc(i: int, **extra) -> dict:
    return {"cluster": f"hcp-{i}", "phase": "install", "duration_seconds": 10.5 + i, "attempts": 1,
            "start": "2024-05-01T12:00:00Z", **extra}


def put_template(es: Elasticsearch, name: str = "timings", pattern: str = "timings*") -> None:
    es.indices.put_index_template(name=name, index_patterns=[pattern],
                                  template={"mappings": TEMPLATE_MAPPINGS, "settings": {"number_of_shards": 1}})


# --------------------------------------------------------------------------- protocol
def test_info_and_ping_8x(server, es):
    info = es.info()
    assert info["version"]["number"] == "8.15.0"
    assert info["version"]["build_flavor"] == "default"
    for key in ("lucene_version", "minimum_wire_compatibility_version", "minimum_index_compatibility_version"):
        assert info["version"][key]
    assert info["tagline"] == "You Know, for Search"
    assert info["name"] and info["cluster_name"] and info["cluster_uuid"]
    assert info.meta.headers["x-elastic-product"] == "Elasticsearch"
    assert info.meta.headers["content-type"].replace(" ", "") == COMPAT8.replace(" ", "")
    assert es.ping() is True
    assert server.request_count("HEAD", "/") == 1
    assert server.requests[("GET", "/")] == 1


def test_version_9_accepts_compat_8_and_rejects_7():
    with FakeElasticsearch(version="9.1.0") as srv:
        with make_client(srv) as es:  # the 8.x client sends compatible-with=8
            assert es.info()["version"]["number"] == "9.1.0"
            assert es.ping()
            es.index(index="docs", id="1", document={"a": 1})
            assert es.count(index="docs")["count"] == 1
        status, headers, body = raw(srv, "GET", "/", headers={"Accept": "application/vnd.elasticsearch+json; compatible-with=7"})
        assert status == 400
        assert headers["x-elastic-product"] == "Elasticsearch"
        err = json.loads(body)
        assert err["status"] == 400 and err["error"]["type"] == "media_type_header_exception"
        assert "version 9 or 8" in err["error"]["caused_by"]["reason"]
        status, headers, _ = raw(srv, "GET", "/", headers={"Accept": "application/vnd.elasticsearch+json; compatible-with=9"})
        assert status == 200 and headers["content-type"] == "application/vnd.elasticsearch+json;compatible-with=9"
        status, headers, _ = raw(srv, "GET", "/", headers={"Accept": "application/json"})
        assert status == 200 and headers["content-type"] == "application/json"


def test_version_8_rejects_compat_9(server):
    status, _, body = raw(server, "GET", "/", headers={"Accept": "application/vnd.elasticsearch+json; compatible-with=9"})
    assert status == 400 and json.loads(body)["error"]["type"] == "media_type_header_exception"


def test_without_product_header_the_client_refuses():
    with FakeElasticsearch(product_header=False) as srv, make_client(srv) as es:
        with pytest.raises(UnsupportedProductError):
            es.info()


def test_unknown_endpoint_and_wrong_method(server):
    status, headers, body = raw(server, "GET", "/_nonexistent_api")
    assert status == 400 and "no handler found" in json.loads(body)["error"]
    assert headers["x-elastic-product"] == "Elasticsearch"
    status, _, _ = raw(server, "DELETE", "/_bulk")
    assert status == 405


# --------------------------------------------------------------------------- auth
def test_basic_auth_required_and_accepted():
    with FakeElasticsearch(username="elastic", password="s3cret") as srv:
        with make_client(srv) as anonymous:
            with pytest.raises(AuthenticationException) as exc:
                anonymous.info()
            assert exc.value.status_code == 401
            body = exc.value.body
            assert body["status"] == 401
            assert body["error"]["type"] == "security_exception"
            assert body["error"]["root_cause"][0]["type"] == "security_exception"
            assert "missing authentication credentials" in body["error"]["reason"]
            assert "Basic" in exc.value.meta.headers["www-authenticate"]
            assert anonymous.ping() is False
        with make_client(srv, basic_auth=("elastic", "wrong")) as wrong:
            with pytest.raises(AuthenticationException):
                wrong.count()
        with make_client(srv, basic_auth=("elastic", "s3cret")) as good:
            assert good.info()["tagline"] == "You Know, for Search"
            assert good.ping()
        status, headers, _ = raw(srv, "GET", "/")
        assert status == 401 and headers["x-elastic-product"] == "Elasticsearch"


def test_api_key_required_and_accepted():
    with FakeElasticsearch(api_key=("key-id", "key-secret")) as srv:
        with make_client(srv) as anonymous, pytest.raises(AuthenticationException):
            anonymous.info()
        with make_client(srv, api_key=("key-id", "other")) as wrong, pytest.raises(AuthenticationException):
            wrong.info()
        with make_client(srv, api_key=("key-id", "key-secret")) as good:
            assert good.info()["version"]["number"] == "8.15.0"
        encoded = base64.b64encode(b"key-id:key-secret").decode()
        with make_client(srv, api_key=encoded) as good:
            assert good.ping()
        # basic auth is not configured: it is not accepted either
        with make_client(srv, basic_auth=("elastic", "x")) as basic, pytest.raises(AuthenticationException):
            basic.info()


def test_basic_and_api_key_both_configured():
    with FakeElasticsearch(username="u", password="p", api_key="ZW5jb2RlZA==") as srv:
        with make_client(srv, basic_auth=("u", "p")) as a, make_client(srv, api_key="ZW5jb2RlZA==") as b:
            assert a.ping() and b.ping()
        status, headers, _ = raw(srv, "GET", "/")
        assert status == 401


# --------------------------------------------------------------------------- templates and indices
def test_index_template_put_exists_get_and_applied(server, es):
    assert not es.indices.exists_index_template(name="timings")
    with pytest.raises(NotFoundError):
        es.indices.get_index_template(name="timings")
    put_template(es)
    assert es.indices.exists_index_template(name="timings")
    got = es.indices.get_index_template(name="timings")["index_templates"]
    assert got[0]["name"] == "timings"
    assert got[0]["index_template"]["index_patterns"] == ["timings*"]
    # an index created implicitly by the first write gets the template's mappings
    assert not es.indices.exists(index="timings-2024")
    es.index(index="timings-2024", id="x", document=timing_doc(0))
    assert es.indices.exists(index="timings-2024")
    mapping = es.indices.get_mapping(index="timings-2024")["timings-2024"]["mappings"]
    assert mapping["properties"]["duration_seconds"] == {"type": "double"}
    assert mapping["properties"]["start"] == {"type": "date"}
    # an index that no template matches is mapped dynamically
    es.index(index="other", id="1", document={"n": 1, "when": "2024-01-01T00:00:00Z", "s": "text"})
    other = server.mapping("other")["properties"]
    assert other["n"]["type"] == "long" and other["when"]["type"] == "date" and other["s"]["type"] == "text"


def test_put_index_explicit(server, es):
    es.indices.create(index="explicit", mappings={"properties": {"n": {"type": "integer"}}})
    assert es.indices.exists(index="explicit")
    with pytest.raises(BadRequestError) as exc:
        es.indices.create(index="explicit")
    assert exc.value.error == "resource_already_exists_exception"
    assert es.indices.get_mapping(index="explicit")["explicit"]["mappings"]["properties"]["n"]["type"] == "integer"
    es.indices.delete(index="explicit")
    assert not es.indices.exists(index="explicit")
    with pytest.raises(NotFoundError):
        es.indices.delete(index="explicit")


# --------------------------------------------------------------------------- bulk
def test_bulk_with_ids_is_idempotent(server, es):
    put_template(es)
    docs = [{"_index": "timings", "_id": f"run1-hcp-{i}", **timing_doc(i)} for i in range(25)]
    assert helpers.bulk(es, docs, refresh="wait_for") == (25, [])
    assert es.count(index="timings")["count"] == 25
    # the same ids again (a retried upload): replaced, not duplicated
    results = list(helpers.streaming_bulk(es, docs, chunk_size=10))
    assert all(ok for ok, _ in results)
    items = [item["index"] for _, item in results]
    assert {i["_version"] for i in items} == {2}
    assert {i["result"] for i in items} == {"updated"}
    assert {i["status"] for i in items} == {200}
    assert es.count(index="timings")["count"] == 25
    assert es.get(index="timings", id="run1-hcp-3")["_version"] == 2
    assert server.indexed["timings"] == 50
    # batching is visible: one request of 25, then three of at most 10
    assert server.bulk_calls == 4
    assert [r.actions for r in server.bulk_log] == [25, 10, 10, 5]
    assert server.bulk_log[1].ids == [f"run1-hcp-{i}" for i in range(10)]
    assert server.bulk_bodies[0].count("\n") == 50
    assert server.bulk_log[0].params.get("refresh") == "wait_for"


def test_bulk_response_shape_and_auto_ids(server, es):
    resp = es.bulk(index="auto", operations=[
        {"index": {}}, {"a": 1},
        {"create": {}}, {"a": 2},
        {"index": {"_id": "fixed"}}, {"a": 3},
    ])
    assert resp["errors"] is False and isinstance(resp["took"], int)
    kinds = [next(iter(item)) for item in resp["items"]]
    assert kinds == ["index", "create", "index"]
    for item in resp["items"]:
        body = next(iter(item.values()))
        assert body["_index"] == "auto" and body["result"] == "created"
        assert body["status"] == 201 and body["_version"] == 1
    ids = [next(iter(i.values()))["_id"] for i in resp["items"]]
    assert ids[2] == "fixed" and len(set(ids)) == 3 and all(len(i) == 20 for i in ids[:2])
    assert es.count(index="auto")["count"] == 3


def test_bulk_create_conflict_is_an_item_error(server, es):
    es.bulk(operations=[{"create": {"_index": "timings", "_id": "1"}}, {"x": 1}])
    resp = es.bulk(operations=[
        {"create": {"_index": "timings", "_id": "1"}}, {"x": 2},
        {"create": {"_index": "timings", "_id": "2"}}, {"x": 3},
    ])
    assert resp["errors"] is True
    first, second = (item["create"] for item in resp["items"])
    assert first["status"] == 409
    assert first["error"]["type"] == "version_conflict_engine_exception"
    assert "document already exists" in first["error"]["reason"]
    assert second["status"] == 201
    assert es.get(index="timings", id="1")["_source"] == {"x": 1}
    with pytest.raises(helpers.BulkIndexError) as exc:
        helpers.bulk(es, [{"_op_type": "create", "_index": "timings", "_id": "1", "x": 4}])
    assert exc.value.errors[0]["create"]["status"] == 409
    ok, errors = helpers.bulk(es, [{"_op_type": "create", "_index": "timings", "_id": "1", "x": 4}],
                              raise_on_error=False)
    assert ok == 0 and errors[0]["create"]["error"]["type"] == "version_conflict_engine_exception"


def test_mapping_type_errors(server, es):
    put_template(es)
    resp = es.bulk(index="timings", operations=[
        {"index": {"_id": "good"}}, timing_doc(1),
        {"index": {"_id": "string-in-long"}}, timing_doc(2, attempts="three"),
        {"index": {"_id": "bad-date"}}, timing_doc(3, start="yesterday"),
        {"index": {"_id": "coerced"}}, timing_doc(4, attempts="4", start=1714564800000),
        {"index": {"_id": "bool-in-double"}}, timing_doc(5, duration_seconds=True),
    ])
    assert resp["errors"] is True
    by_id = {i["index"]["_id"]: i["index"] for i in resp["items"]}
    assert by_id["good"]["status"] == 201 and by_id["coerced"]["status"] == 201
    for bad in ("string-in-long", "bad-date", "bool-in-double"):
        assert by_id[bad]["status"] == 400, bad
        assert by_id[bad]["error"]["type"] == "mapper_parsing_exception"
    assert "[attempts] of type [long]" in by_id["string-in-long"]["error"]["reason"]
    assert "[start] of type [date]" in by_id["bad-date"]["error"]["reason"]
    assert es.count(index="timings")["count"] == 2
    # dynamic mapping: the first value decides, a later inconsistent one fails
    es.index(index="dyn", id="1", document={"seconds": 1.5})
    with pytest.raises(BadRequestError) as exc:
        es.index(index="dyn", id="2", document={"seconds": "n/a"})
    assert exc.value.error == "mapper_parsing_exception"
    server.mapping_error_type = "document_parsing_exception"  # the name since Elasticsearch 8.8
    with pytest.raises(BadRequestError) as exc:
        es.index(index="dyn", id="3", document={"seconds": {"nested": 1}})
    assert exc.value.error == "document_parsing_exception"


def test_strict_mapping(server, es):
    es.indices.create(index="strict", mappings={"dynamic": "strict", "properties": {"a": {"type": "keyword"}}})
    es.index(index="strict", id="1", document={"a": "x"})
    with pytest.raises(BadRequestError) as exc:
        es.index(index="strict", id="2", document={"a": "x", "b": 1})
    assert exc.value.error == "strict_dynamic_mapping_exception"


# --------------------------------------------------------------------------- search, count, get
def test_search_count_get(server, es):
    put_template(es)
    docs = [{"_index": "timings", "_id": str(i), **timing_doc(i, phase="install" if i % 2 else "destroy",
                                                             note=f"cluster number {i} ready")}
            for i in range(12)]
    helpers.bulk(es, docs)
    es.indices.refresh(index="timings")
    assert es.count(index="timings")["count"] == 12
    assert es.count(index="timings", query={"term": {"phase": "install"}})["count"] == 6
    res = es.search(index="timings", query={"match_all": {}})
    assert res["hits"]["total"]["value"] == 12 and len(res["hits"]["hits"]) == 10  # default size
    res = es.search(index="timings", query={"term": {"cluster": "hcp-3"}}, size=5)
    assert [h["_id"] for h in res["hits"]["hits"]] == ["3"]
    assert res["hits"]["hits"][0]["_source"]["duration_seconds"] == 13.5
    res = es.search(index="timings", query={"match": {"note": "number 7"}}, size=20)
    assert res["hits"]["total"]["value"] == 12  # "number" is in every note (OR)
    res = es.search(index="timings", query={"match": {"note": {"query": "7 ready", "operator": "and"}}})
    assert [h["_id"] for h in res["hits"]["hits"]] == ["7"]
    res = es.search(index="timings", query={"match": {"attempts": 1}}, size=0)
    assert res["hits"]["total"]["value"] == 12 and res["hits"]["hits"] == []
    res = es.search(index="timings", query={"bool": {"filter": [{"term": {"phase": "destroy"}},
                                                                 {"range": {"duration_seconds": {"gte": 16}}}]}},
                    sort=[{"duration_seconds": "desc"}])
    assert [h["_id"] for h in res["hits"]["hits"]] == ["10", "8", "6"]
    assert es.search(index="timings-*", query={"match_all": {}})["hits"]["total"]["value"] == 0
    got = es.get(index="timings", id="5")
    assert got["found"] is True and got["_source"]["cluster"] == "hcp-5" and got["_version"] == 1
    with pytest.raises(NotFoundError) as exc:
        es.get(index="timings", id="nope")
    assert exc.value.body["found"] is False
    with pytest.raises(NotFoundError) as exc:
        es.get(index="missing", id="1")
    assert exc.value.error == "index_not_found_exception"
    with pytest.raises(NotFoundError):
        es.search(index="missing")
    with pytest.raises(BadRequestError):
        es.search(index="timings", query={"fuzzy": {"cluster": "hcp"}})


# --------------------------------------------------------------------------- fault injection
def test_injected_503_and_429_are_retried_by_the_client(server):
    with make_client(server, retry_on_status=(429, 503), max_retries=3) as es:
        es.index(index="t", id="1", document={"a": 1})
        server.faults.set(status=503, count=2)
        before = server.request_count("POST", "/t/_count")
        assert es.count(index="t")["count"] == 1
        assert server.request_count("POST", "/t/_count") == before + 3
        assert server.faults.pending == 0
        assert server.statuses[503] == 2
        server.faults.set(status=429, count=1, paths={"/_search"})
        assert es.count(index="t")["count"] == 1  # the fault does not match /t/_count
        assert es.search(index="t")["hits"]["total"]["value"] == 1
        assert server.faults.injected == 3
    with make_client(server, max_retries=0) as es:
        server.faults.set(status=429, count=1)
        with pytest.raises(ApiError) as exc:
            es.info()
        assert exc.value.status_code == 429
        assert exc.value.meta.headers["retry-after"] == "1"
        assert exc.value.body["error"]["type"] == "es_rejected_execution_exception"
        assert exc.value.body["status"] == 429
        server.faults.set(status=500, count=1, paths={"/_bulk"})
        assert es.info()  # not a bulk request: untouched
        with pytest.raises(ApiError) as exc:
            es.bulk(operations=[{"index": {"_index": "t"}}, {"a": 2}])
        assert exc.value.status_code == 500
        server.faults.set(status=503, count=None)  # an outage until cleared
        for _ in range(3):
            with pytest.raises(ApiError):
                es.info()
        server.faults.set(None)
        assert es.info()


def test_whole_bulk_429_is_retried_by_helpers(server):
    with make_client(server, max_retries=0) as es:
        server.faults.set(status=429, count=2, paths={"/_bulk"})
        docs = [{"_index": "t", "_id": str(i), "n": i} for i in range(3)]
        assert helpers.bulk(es, docs, max_retries=3, initial_backoff=0.01) == (3, [])
        assert server.bulk_calls == 3
        assert [r.status for r in server.bulk_log] == [429, 429, 200]
        assert es.count(index="t")["count"] == 3


def test_bulk_item_errors_then_success(server, es):
    server.faults.item_errors(ids={"b", "c"}, status=429, count=2)
    docs = [{"_index": "t", "_id": i, "n": n} for n, i in enumerate("abcd")]
    # helpers retry rejected items only with raise_on_error=False: with True (the default) the
    # chunk's item errors are raised before the retry loop sees them (elasticsearch-py 8.x).
    assert helpers.bulk(es, docs, max_retries=3, initial_backoff=0.01, raise_on_error=False) == (4, [])
    assert server.bulk_calls == 3
    assert [r.ids for r in server.bulk_log] == [["a", "b", "c", "d"], ["b", "c"], ["b", "c"]]
    server.faults.item_errors(ids={"d"}, status=429, count=1)
    with pytest.raises(helpers.BulkIndexError) as exc:
        helpers.bulk(es, [{"_index": "t", "_id": "d", "n": 3}], max_retries=3, initial_backoff=0.01)
    assert exc.value.errors[0]["index"]["status"] == 429
    assert exc.value.errors[0]["index"]["error"]["type"] == "es_rejected_execution_exception"
    assert server.bulk_calls == 4
    assert server.faults.pending_items == {} and server.faults.item_injected == 5
    assert es.count(index="t")["count"] == 4
    # a per-item 400 is not retried
    server.faults.item_errors(ids=["a"], status=400, count=1)
    resp = es.bulk(operations=[{"index": {"_index": "t", "_id": "a"}}, {"n": 9},
                               {"index": {"_index": "t", "_id": "d"}}, {"n": 9}])
    assert resp["errors"] is True
    assert resp["items"][0]["index"]["status"] == 400 and "error" in resp["items"][0]["index"]
    assert resp["items"][1]["index"]["status"] == 200
    server.faults.item_errors(ids=["a"], status=500, count=1)
    with pytest.raises(helpers.BulkIndexError):
        helpers.bulk(es, [{"_index": "t", "_id": "a", "n": 1}], max_retries=3, initial_backoff=0.01)


def test_down_then_up_on_the_same_port(server):
    with make_client(server, max_retries=0, request_timeout=2) as es:
        es.index(index="t", id="1", document={"a": 1})
        port = server.port
        server.down()
        assert not server.is_up
        with pytest.raises(EsConnectionError):
            es.info()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        server.up()
        assert server.port == port and server.url == f"http://127.0.0.1:{port}"
        assert es.get(index="t", id="1")["_source"] == {"a": 1}  # the data survived
    # the client's own retries carry it across a short outage
    with make_client(server, max_retries=10, retry_on_status=(503,)) as es:
        assert es.ping()
        server.down()
        timer = threading.Timer(0.3, server.up)
        timer.start()
        try:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # bounded: the client's retries are immediate
                try:
                    assert es.count(index="t")["count"] == 1
                    break
                except EsConnectionError:
                    time.sleep(0.1)
            else:
                pytest.fail("the server did not come back")
        finally:
            timer.join(5)


def test_down_drops_open_keepalive_connections(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
    try:
        conn.request("GET", "/")
        assert conn.getresponse().read()
        server.down()
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            conn.request("GET", "/")
            conn.getresponse().read()
    finally:
        conn.close()
        server.up()


def test_delay_causes_client_timeouts(server):
    with make_client(server, max_retries=0, request_timeout=0.2) as es:
        server.delay(1.0, count=1)
        started = time.monotonic()
        with pytest.raises(ConnectionTimeout):
            es.info()
        assert time.monotonic() - started < 1.0
        assert es.info()  # the delay applied to one request only
        server.delay(0.05)
        assert es.ping()
        server.delay(0)


# --------------------------------------------------------------------------- concurrency and counters
def test_concurrent_bulks_and_counters(server, es):
    def worker(w: int) -> None:
        with make_client(server) as client:
            helpers.bulk(client, [{"_index": "t", "_id": f"{w}-{i}", "n": i} for i in range(50)], chunk_size=20)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert es.count(index="t")["count"] == 200
    assert server.indexed["t"] == 200
    assert server.bulk_calls == 12
    assert server.request_count(path="/_bulk") == 12
    server.reset_counters()
    assert server.bulk_calls == 0 and not server.requests and not server.indexed
    assert server.documents("t")["0-0"] == {"n": 0}
