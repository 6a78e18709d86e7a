"""``python -m sim serve --dir DIR [...]``: serve a simulated HyperShift management cluster.

See ``sim/README.md``.  Runs until SIGINT or SIGTERM, then stops promptly and
saves ``DIR/state.json`` (restored on the next start with the same ``--dir``).
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from sim import model


def _indices(text: str) -> list[int]:
    """``3,7,10-12`` -> [3, 7, 10, 11, 12]."""
    out: list[int] = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            a, b = int(lo), int(hi)
            if b < a or b - a > 100000:
                raise argparse.ArgumentTypeError(f"bad range {part!r}")
            out.extend(range(a, b + 1))
        else:
            out.append(int(part))
    return out


def _indices_arg(text: str) -> list[int]:
    try:
        return _indices(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected cluster indices like 3,7 or 10-12, got {text!r}") from None


def _rate(text: str) -> float:
    v = float(text)
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError("--failure-rate must be within [0, 1]")
    return v


def _rate_of(flag: str):
    def parse(text: str) -> float:
        v = float(text)
        if not 0.0 <= v <= 1.0:
            raise argparse.ArgumentTypeError(f"{flag} must be within [0, 1]")
        return v
    return parse


def _non_negative(text: str) -> float:
    v = float(text)
    if v < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return v


def _status_code(text: str) -> int:
    v = int(text)
    if not 400 <= v <= 599:
        raise argparse.ArgumentTypeError("must be an HTTP error status (400-599)")
    return v


# Faults by cluster index (the trailing -NNNN of a name): flag and help.  Each flag's dest is the
# model.Faults.make argument of the same name.
CLUSTER_FAULT_FLAGS = (
    ("--fail-clusters", "cluster indices (trailing -NNNN of the name) whose install fails, e.g. 3,7"),
    ("--stuck-clusters", "cluster indices that never become Available (and show no failure)"),
    ("--destroy-fail-clusters", "cluster indices whose deletion never completes"),
    ("--load-fail-clusters", "cluster indices whose load (bin/kube-burner-ocp) fails creating objects (rc 1)"),
    ("--load-slow-clusters", "cluster indices whose load takes far longer (creation and churn x load_slow_factor)"),
    ("--load-alert-clusters", "cluster indices whose load ends with an alert of severity error (rc 3, with "
                              "--alerting and a metrics endpoint)"),
    ("--cli-crash-clusters", "cluster indices whose `hypershift create cluster` panics (exit 2) after applying the "
                             "HostedCluster, before its NodePools"),
    ("--cli-crash-early-clusters", "cluster indices whose `hypershift create cluster` panics (exit 2) while "
                                   "creating the infrastructure, before anything is applied"),
    ("--cli-hang-clusters", "cluster indices whose `hypershift create cluster` applies everything, then hangs until "
                            "killed (or interrupted)"),
    ("--degraded-clusters", "cluster indices whose control plane never becomes Available: Degraded=True "
                            "(UnavailableReplicas) once etcd is up"),
)


def _fault_dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def api_faults(args: argparse.Namespace) -> dict:
    """The ``--api-*`` flags as keyword arguments of :meth:`sim.apiserver.Faults.set`."""
    return {"error_rate": args.api_error_rate, "error_code": args.api_error_code, "delay": args.api_delay,
            "drop_watches_after": args.drop_watches_after, "watch_gone_rate": args.watch_gone_rate,
            "verbs": [v for v in (args.api_fault_verbs or "").split(",") if v.strip()] or None,
            "path_prefix": args.api_fault_path or None,
            "agents": [a for a in (args.api_fault_agents or "").split(",") if a] or None,
            "retry_after": args.api_retry_after}


def _positive(text: str) -> float:
    v = float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sim", description="The simulated HyperShift world.")
    sub = p.add_subparsers(dest="command")
    s = sub.add_parser("serve", help="serve a simulated management cluster (until SIGINT/SIGTERM)")
    s.add_argument("--dir", required=True, help="world directory (kubeconfig, bin/hypershift, world.json, ...)")
    s.add_argument("--port", type=int, default=0, help="port of the simulated API server on 127.0.0.1 "
                                                       "(0: any free port; on restart the previous one if free)")
    s.add_argument("--speed", type=_positive, default=100.0, help="simulated seconds per real second (default 100)")
    s.add_argument("--seed", type=int, default=0, help="seed of every random spread and of --failure-rate")
    for flag, text in CLUSTER_FAULT_FLAGS:
        s.add_argument(flag, type=_indices_arg, default=[], metavar="IDX", help=text)
    s.add_argument("--failure-rate", type=_rate, default=0.0, help="fraction of clusters whose install fails")
    s.add_argument("--no-guest-image-registry", dest="guest_image_registry", action="store_false",
                   help="hosted clusters have no internal image registry (cluster-density-v2 fails, rc 1)")
    s.add_argument("--no-guest-monitoring", dest="guest_monitoring", action="store_false",
                   help="hosted clusters have no monitoring stack (no openshift-monitoring/prometheus-k8s route and "
                        "service account: kube-burner-ocp's Prometheus discovery fails, rc 1, unless "
                        "--alerting=false and no indexing)")
    s.add_argument("--no-mgmt-monitoring", dest="mgmt_monitoring", action="store_false",
                   help="the simulated management API has no openshift-monitoring/prometheus-k8s route and service "
                        "account (no management-cluster Prometheus to scrape)")
    a = s.add_argument_group("API faults", "faults of the simulated management API (and the guest APIs it serves); "
                             "change them at run time with DIR/faults.json (see sim/README.md)")
    a.add_argument("--api-error-rate", type=_rate_of("--api-error-rate"), default=0.0, metavar="F",
                   help="fraction of matching requests answered with --api-error-code")
    a.add_argument("--api-error-code", type=_status_code, default=503, metavar="N",
                   help="HTTP status of injected errors (default 503; 429 carries Retry-After: 1)")
    a.add_argument("--api-retry-after", type=int, default=None, metavar="SECONDS",
                   help="send Retry-After with every injected error (the kubernetes client then retries GETs)")
    a.add_argument("--api-delay", type=_non_negative, default=0.0, metavar="SECONDS",
                   help="delay every matching request by this many (real) seconds")
    a.add_argument("--drop-watches-after", type=_non_negative, default=None, metavar="SECONDS",
                   help="end every matching watch stream after this many (real) seconds")
    a.add_argument("--watch-gone-rate", type=_rate_of("--watch-gone-rate"), default=0.0, metavar="F",
                   help="fraction of matching watches (from a resourceVersion) answered with a 410 Gone ERROR "
                        "event, so the client must relist")
    a.add_argument("--api-fault-verbs", default=None, metavar="VERBS",
                   help="only these verbs, e.g. list,watch,get (create, update, patch, delete, deletecollection)")
    a.add_argument("--api-fault-path", default=None, metavar="PREFIX",
                   help="only request paths starting with PREFIX, e.g. /apis/hypershift.openshift.io/ or /guests/")
    a.add_argument("--api-fault-agents", default=None, metavar="PREFIXES",
                   help="only clients whose User-Agent starts with one of these (comma list), e.g. hcp-scale/ "
                        "(the harness) or hypershift/ (the stand-in CLI); default: every client "
                        "except the simulated operator")
    s.add_argument("--mgmt-kubeconfig", help="use this external API server (e.g. a real kube-apiserver with "
                                              "HyperShift's CRDs) for management objects; serve only guest APIs")
    s.add_argument("--install-crds", action="store_true",
                   help="with --mgmt-kubeconfig: install minimal HostedCluster/NodePool CRDs when missing")
    s.add_argument("--base-domain", default="sim.hypershift.local")
    s.add_argument("--region", default="us-east-1")
    s.add_argument("--release-image", default=None, help="default release image of the world")
    s.add_argument("--workers", type=int, default=4, help="operator reconcile workers")
    s.add_argument("--fresh", action="store_true", help="ignore DIR/state.json")
    s.add_argument("--ocm-decoys", type=int, default=250, metavar="N",
                   help="other clusters the simulated OCM lists before the management cluster (default 250)")
    s.add_argument("--ocm-cluster-name", default="sim-mgmt", help="the management cluster's name in OCM")
    s.add_argument("--no-cluster-config", dest="cluster_config", action="store_false",
                   help="do not create OpenShift's config.openshift.io dnses/cluster and infrastructures/cluster "
                        "on the simulated management API (as on a cluster where they cannot be read)")
    s.add_argument("--log-level", default="INFO")
    return p


def serve(args: argparse.Namespace) -> int:
    from sim.world import DEFAULT_RELEASE_IMAGE, World, WorldConfig

    logging.getLogger("sim").setLevel(getattr(logging, str(args.log_level).upper(), logging.INFO))
    by_index = {_fault_dest(flag): getattr(args, _fault_dest(flag)) for flag, _ in CLUSTER_FAULT_FLAGS}
    faults = model.Faults.make(failure_rate=args.failure_rate, **by_index)
    cfg = WorldConfig(dir=args.dir, speed=args.speed, seed=args.seed, faults=faults, port=args.port,
                      mgmt_kubeconfig=args.mgmt_kubeconfig, install_crds=args.install_crds,
                      base_domain=args.base_domain, region=args.region,
                      release_image=args.release_image or DEFAULT_RELEASE_IMAGE, workers=args.workers,
                      restore=not args.fresh, ocm_decoys=max(0, args.ocm_decoys),
                      ocm_cluster_name=args.ocm_cluster_name, cluster_config=args.cluster_config,
                      guest_image_registry=args.guest_image_registry, guest_monitoring=args.guest_monitoring,
                      mgmt_monitoring=args.mgmt_monitoring, api_faults=api_faults(args))
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    world = World(cfg)
    try:
        world.start()
    except Exception as exc:
        world.stop()
        print(f"sim: failed to start the simulated world: {exc}", file=sys.stderr, flush=True)
        return 1
    where = "an external API server" if args.mgmt_kubeconfig else world.mgmt_url
    print(f"Serving a SIMULATED HyperShift management cluster (no real cluster, no AWS) at {where}; "
          f"kubeconfig: {world.kubeconfig_path}; hypershift CLI stand-in: {world.hypershift_path}; "
          f"kube-burner-ocp stand-in: {world.kube_burner_path}"
          + (f"; simulated OCM API: {world.ocm.server.url} (ocm CLI stand-in: {world.ocm.bin_path})"
             if world.ocm is not None else "")
          + (f"; ROSA HCP and a simulated AWS account {world.rosa.account_id} (rosa CLI stand-in: "
             f"{world.rosa.info()['rosa']})" if world.rosa is not None else ""), flush=True)
    try:
        while not stop.wait(3600):
            pass
    finally:
        world.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "serve":
        parser.print_help()
        return 2
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
