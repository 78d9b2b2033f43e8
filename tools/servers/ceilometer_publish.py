"""Drive Ceilometer 27.0.0's own Gnocchi code against a test Gnocchi.

Run with the python of the venv that tools/servers/ceilometer-publisher.sh
builds (it has ceilometer==27.0.0 and its dependencies):

  python ceilometer_publish.py upgrade URL
  python ceilometer_publish.py publish URL SAMPLES_JSON [--batch all|timestamp|N]
                                       [--settle SECONDS] [--wait SECONDS]
                                       [--publisher-url gnocchi://?...]
                                       [--allow-unhandled] [--debug]
  python ceilometer_publish.py wait URL [--timeout SECONDS]

No Keystone and no message bus are involved.  Ceilometer reaches Gnocchi
through its usual configuration: [service_credentials] auth_type =
gnocchi-basic (the keystoneauth plugin that gnocchiclient registers) with
user = admin and endpoint = URL.  Ceilometer's gnocchi_client asks the session
for the "metric" endpoint, which that plugin answers with URL.

upgrade   runs the venv's ceilometer-upgrade console script (Ceilometer's
          resource types), then creates the archive policies of
          gnocchi_resources.yaml with GnocchiPublisher.ensures_archives_policies,
          which is what a stock publisher does before its first batch.
publish   turns a JSON list of sample dicts (the "counter_*" format that the
          polling agent sends on the bus, see ceilometer.telemetry.notifications)
          into ceilometer.sample.Sample objects and hands them to
          ceilometer.publisher.gnocchi.GnocchiPublisher.publish_samples.  The
          publisher logs and drops its errors: its logger is hooked, and every
          resource is read back from Gnocchi, so that any failure exits 1.
          Prints a JSON summary (resource and metric ids) on stdout.
wait      waits until Gnocchi's metricd has no measures left to process.
"""

import argparse
import collections
import datetime
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import warnings

# oslo.service warns that eventlet is deprecated each time it is imported.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

DEFAULT_PUBLISHER_URL = "gnocchi://?enable_filter_project=false"
REQUIRED_FIELDS = ("counter_name", "counter_type", "counter_unit", "counter_volume", "resource_id", "timestamp")


class Failure(Exception):
    pass


def write_config(workdir, url, debug=False):
    """Write a ceilometer.conf for a basic-auth Gnocchi at URL; return argv."""
    conf = os.path.join(workdir, "ceilometer.conf")
    with open(conf, "w") as f:
        f.write(f"""[DEFAULT]
use_stderr = true
debug = {"true" if debug else "false"}

[service_credentials]
auth_type = gnocchi-basic
user = admin
endpoint = {url.rstrip("/")}
""")
    # An empty --config-dir keeps /etc/ceilometer/ceilometer.conf.d out.
    confdir = os.path.join(workdir, "conf.d")
    os.makedirs(confdir, exist_ok=True)
    return ["--config-file", conf, "--config-dir", confdir]


def prepare(workdir, url, debug=False):
    from ceilometer import service

    args = write_config(workdir, url, debug)
    return service.prepare_service(argv=["ceilometer-publish", *args])


class ErrorCollector(logging.Handler):
    """Keeps the WARNING+ records of ceilometer.publisher.gnocchi.

    Its errors (failed batch, failed resource creation or update) are logged
    at ERROR; an unmapped meter ("metric X is not handled by Gnocchi", its
    samples dropped) at WARNING.
    """

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def messages(self, allow_unhandled=False):
        out = []
        for r in self.records:
            msg = r.getMessage()
            if allow_unhandled and r.levelno < logging.ERROR and msg.endswith(" is not handled by Gnocchi"):
                continue
            if r.exc_info and r.exc_info[1] is not None:
                msg += f" ({type(r.exc_info[1]).__name__}: {r.exc_info[1]})"
            out.append(f"{r.levelname}: {msg}")
        return out


def make_publisher(conf, publisher_url):
    from urllib import parse as urlparse

    from ceilometer.publisher import gnocchi

    return gnocchi.GnocchiPublisher(conf, urlparse.urlparse(publisher_url))


def cmd_upgrade(args):
    bindir = os.path.dirname(os.path.abspath(sys.executable))
    exe = os.path.join(bindir, "ceilometer-upgrade")
    with tempfile.TemporaryDirectory(prefix="ceilometer-upgrade.") as work:
        cmd = [exe, *write_config(work, args.url), "--retry", str(args.retry)]
        env = dict(os.environ, PYTHONWARNINGS="ignore::DeprecationWarning")
        try:
            p = subprocess.run(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=args.timeout, text=True
            )
        except subprocess.TimeoutExpired:
            raise Failure(f"ceilometer-upgrade took more than {args.timeout}s") from None
        if p.returncode != 0:
            sys.stderr.write(p.stdout)
            raise Failure(f"ceilometer-upgrade exited {p.returncode}")

        conf = prepare(work, args.url)
        collector = ErrorCollector()
        logging.getLogger("ceilometer.publisher.gnocchi").addHandler(collector)
        pub = make_publisher(conf, DEFAULT_PUBLISHER_URL)
        pub.ensures_archives_policies()
        errors = collector.messages()
        if errors:
            raise Failure("; ".join(errors))
        names = [ap["name"] for ap in pub.archive_policies_definition]
        rts = sorted(rt["name"] for rt in pub._gnocchi.resource_type.list())
    print(json.dumps({"resource_types": rts, "archive_policies": names}))


def parse_ts(value):
    from oslo_utils import timeutils

    ts = timeutils.parse_isotime(value)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=datetime.UTC)
    return ts


def load_samples(path):
    from ceilometer import sample as sample_mod

    if path == "-":
        data = json.load(sys.stdin)
    else:
        with open(path) as f:
            data = json.load(f)
    if not isinstance(data, list):
        raise Failure(f"{path}: expected a JSON list of sample dicts")
    samples = []
    for i, d in enumerate(data):
        if not isinstance(d, dict):
            raise Failure(f"{path}[{i}]: not an object")
        missing = [k for k in REQUIRED_FIELDS if k not in d]
        if missing:
            raise Failure(f"{path}[{i}]: missing {', '.join(missing)}")
        vol = d["counter_volume"]
        # SamplePipeline._validate_volume would drop these with a warning.
        if isinstance(vol, bool) or not isinstance(vol, (int, float)):
            try:
                float(vol)
            except (TypeError, ValueError):
                raise Failure(f"{path}[{i}]: counter_volume {vol!r} is not a number") from None
        try:
            parse_ts(d["timestamp"])
        except (TypeError, ValueError) as e:
            raise Failure(f"{path}[{i}]: bad timestamp {d['timestamp']!r}: {e}") from None
        # As ceilometer.telemetry.notifications.TelemetryIpc.build_sample does
        # for the samples that the polling agent sends.
        try:
            samples.append(
                sample_mod.Sample(
                    name=d["counter_name"],
                    type=d["counter_type"],
                    unit=d["counter_unit"],
                    volume=vol,
                    user_id=d.get("user_id"),
                    project_id=d.get("project_id"),
                    resource_id=d["resource_id"],
                    timestamp=d["timestamp"],
                    resource_metadata=d.get("resource_metadata") or {},
                    source=d.get("source"),
                    id=d.get("message_id"),
                    monotonic_time=d.get("monotonic_time"),
                    user_name=d.get("user_name"),
                    project_name=d.get("project_name"),
                )
            )
        except ValueError as e:
            raise Failure(f"{path}[{i}]: {e}") from None
    return samples


def batches(samples, mode):
    """Split the samples (sorted by time) into publish_samples calls.

    "all": one call; "timestamp": one call per timestamp, like successive
    polling cycles; N: chunks of N samples.
    """
    ordered = sorted(samples, key=lambda s: parse_ts(s.timestamp))
    if mode == "all":
        yield ordered
        return
    if mode != "timestamp":
        n = int(mode)
        for i in range(0, len(ordered), n):
            yield ordered[i : i + n]
        return
    current, key = [], None
    for s in ordered:
        k = parse_ts(s.timestamp)
        if current and k != key:
            yield current
            current = []
        current.append(s)
        key = k
    if current:
        yield current


def check_resources(pub, published):
    """Read every published resource back; return (summary, problems)."""
    from gnocchiclient import exceptions as gnocchi_exc

    summary, problems = [], []
    for rid, info in published.items():
        rd, meters, project_id = info["rd"], info["meters"], info["project_id"]
        rtype = rd.cfg["resource_type"]
        try:
            res = pub._gnocchi.resource.get(rtype, rid)
        except gnocchi_exc.NotFound as e:
            problems.append(f"resource {rid} ({rtype}) is not in Gnocchi: {e}")
            continue
        metrics = res.get("metrics", {})
        for m in sorted(meters):
            if m not in metrics:
                problems.append(f"resource {rid} ({rtype}) has no metric {m}")
        if res.get("project_id") != project_id:
            problems.append(f"resource {rid} ({rtype}) has project_id {res.get('project_id')}, expected {project_id}")
        summary.append(
            {
                "original_resource_id": res.get("original_resource_id"),
                "id": res["id"],
                "type": rtype,
                "project_id": res.get("project_id"),
                "metrics": {m: metrics.get(m) for m in sorted(meters)},
            }
        )
    return summary, problems


def cmd_publish(args):
    with tempfile.TemporaryDirectory(prefix="ceilometer-publish.") as work:
        conf = prepare(work, args.url, args.debug)
        samples = load_samples(args.samples)
        collector = ErrorCollector()
        logging.getLogger("ceilometer.publisher.gnocchi").addHandler(collector)
        pub = make_publisher(conf, args.publisher_url)

        published = collections.OrderedDict()
        calls = 0
        for batch in batches(samples, args.batch):
            pub.publish_samples(list(batch))
            calls += 1
            errors = collector.messages(args.allow_unhandled)
            if errors:
                raise Failure("the Gnocchi publisher reported: " + " | ".join(errors))
            if args.settle:
                wait_processed(pub._gnocchi, args.settle)
            for s in batch:
                rd = pub.metric_map.get(s.name)
                if rd is None:
                    continue
                rid = s.resource_id.replace("/", "_")
                info = published.setdefault(rid, {"rd": rd, "meters": set()})
                info["meters"].add(s.name)
                info["project_id"] = s.project_id

        summary, problems = check_resources(pub, published)
        if problems:
            raise Failure("; ".join(problems))
        if args.wait:
            wait_processed(pub._gnocchi, args.wait)
    print(json.dumps({"samples": len(samples), "publish_calls": calls, "resources": summary}, indent=1))


def wait_processed(client, timeout):
    deadline = time.monotonic() + timeout
    while True:
        st = client.status.get()
        pending = st["storage"]["summary"]["measures"]
        if pending == 0:
            return
        if time.monotonic() >= deadline:
            raise Failure(f"{pending} measures still unprocessed after {timeout}s")
        time.sleep(0.5)


def cmd_wait(args):
    from gnocchiclient import auth, client
    from keystoneauth1 import session

    sess = session.Session(auth=auth.GnocchiBasicPlugin(user="admin", endpoint=args.url))
    wait_processed(client.Client("1", sess), args.timeout)


def batch_mode(value):
    if value in ("all", "timestamp"):
        return value
    try:
        if int(value) > 0:
            return value
    except ValueError:
        pass
    raise argparse.ArgumentTypeError("expected all, timestamp or a positive number")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("upgrade", help="ceilometer-upgrade + archive policies")
    p.add_argument("url")
    p.add_argument("--retry", type=int, default=3)
    p.add_argument("--timeout", type=float, default=300)
    p = sub.add_parser("publish", help="push samples through GnocchiPublisher")
    p.add_argument("url")
    p.add_argument("samples", help="JSON file with a list of sample dicts, or -")
    p.add_argument(
        "--batch",
        type=batch_mode,
        default="all",
        help="publish_samples calls: all (one call, the default), timestamp "
        "(one per timestamp, like polling cycles) or N samples per call",
    )
    p.add_argument("--settle", type=float, default=0, help="after each call, wait up to this many seconds for metricd")
    p.add_argument("--publisher-url", default=DEFAULT_PUBLISHER_URL)
    p.add_argument(
        "--allow-unhandled", action="store_true", help="do not fail on meters that gnocchi_resources.yaml does not map"
    )
    p.add_argument("--wait", type=float, default=0, help="then wait up to this many seconds for metricd")
    p.add_argument("--debug", action="store_true")
    p = sub.add_parser("wait", help="wait until metricd has processed everything")
    p.add_argument("url")
    p.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args(argv)
    try:
        {"upgrade": cmd_upgrade, "publish": cmd_publish, "wait": cmd_wait}[args.cmd](args)
    except Failure as e:
        print(f"ceilometer_publish.py {args.cmd}: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - report any error in one line, exit 1
        # Not through the publisher (which logs and drops its errors), e.g.
        # ensures_archives_policies or a read-back when Gnocchi is unreachable.
        if getattr(args, "debug", False):
            import traceback

            traceback.print_exc()
        print(f"ceilometer_publish.py {args.cmd}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
