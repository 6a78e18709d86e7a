"""Elasticsearch upload throughput and the session-end flush for a run of N clusters.

    python bench/es_flush.py [--clusters 1000] [--es-url URL]

Builds the documents a run of N clusters produces (an install and a destroy
document each, plus the management cluster's), feeds them to the recorder the
way the controller does, and prints bulk throughput (documents per second) and
how long the flush at the end of the session takes.  Without --es-url it uses
the ES-API-compatible test server on 127.0.0.1 (tests/esserver.py), so the
figure is the harness's side plus a lightweight server, not a real cluster.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plugins import documents  # noqa: E402
from plugins.elastic import BATCH, Recorder  # noqa: E402


def make_documents(clusters: int) -> list[dict]:
    docs = [documents.normalize({"uuid": "bench", "operation": "mgmt_cluster", "mgmt_cluster_name": "mgmt",
                                 "timestamp": documents.now(), "hostedclusters": clusters})]
    for i in range(1, clusters + 1):
        base = {"uuid": "bench", "cluster_name": f"perfsc-abc-{i:04d}", "index": i, "workers": 3,
                "platform": "sim", "install_method": "hypershift", "mgmt_cluster_name": "mgmt",
                "timestamp": documents.now()}
        t = {"create_requested": "2026-11-24T10:00:00.000Z", "hc_created": "2026-11-24T10:01:30Z",
             "control_plane_available": "2026-11-24T10:08:00Z", "nodepools_ready": "2026-11-24T10:14:00Z",
             "workers_ready": "2026-11-24T10:13:55Z", "install_completed": "2026-11-24T10:17:00Z",
             "ready": "2026-11-24T10:17:00Z", "create_cli_s": 91.2, "batch_wait_s": 0.0, "version": "4.17.3",
             "destroy_requested": "2026-11-24T10:20:00.000Z", "deleted": "2026-11-24T10:26:00.000Z",
             "destroy_cli_s": 400.0, "destroy_s": 360.0}
        docs.append(documents.normalize(documents.install_document(base, t, status="ready", test_outcome="passed",
                                                                   phase="ready", error=None)))
        docs.append(documents.normalize(documents.destroy_document(base, t, status="success", error=None)))
    return docs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--es-url")
    args = parser.parse_args()
    server = None
    url = args.es_url
    if not url:
        from tests.esserver import FakeElasticsearch

        server = FakeElasticsearch().start()
        url = server.url
    settings = SimpleNamespace(es_url=url, es_index="hcp-bench", es_insecure=False, es_index_retry=5, path="/tmp")
    recorder = Recorder(config=None, settings=settings)
    docs = make_documents(args.clusters)
    started = time.perf_counter()
    for doc in docs[:-1]:
        recorder.pytest_hcp_document_recorded(None, doc)
    during = time.perf_counter() - started
    recorder.pytest_hcp_document_recorded(None, docs[-1])
    flush_started = time.perf_counter()
    recorder.flush()
    flush = time.perf_counter() - flush_started
    total = time.perf_counter() - started
    uploaded = len(recorder.uploader.sent)
    # everything at once: what a session end (or --es-index-only) costs when nothing was sent during the run
    from plugins.elastic import Uploader

    cold = Uploader(url, "hcp-bench-cold", False, 5)
    cold_started = time.perf_counter()
    cold_sent = cold.upload(docs)
    cold_time = time.perf_counter() - cold_started
    print(f"documents       : {len(docs)} ({args.clusters} clusters), uploaded {uploaded}, batch size {BATCH}")
    print(f"bulk throughput : {uploaded / total:.0f} documents/s ({total:.2f} s in all)")
    print(f"during the run  : {during:.2f} s spent in the recorder for the first {len(docs) - 1} documents")
    print(f"session-end flush: {flush * 1000:.0f} ms ({len(docs) % BATCH or BATCH} documents left to send)")
    print(f"all at once     : {cold_time:.2f} s for {cold_sent} documents ({cold_sent / cold_time:.0f} documents/s)")
    if server:
        print(f"bulk requests   : {server.bulk_calls} (test server on 127.0.0.1)")
        server.stop()
    return 0 if uploaded == len(docs) else 1


if __name__ == "__main__":
    sys.exit(main())
