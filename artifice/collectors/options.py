"""The collectors' options ([collector:samples], [collector:ceilometer], [collector:gnocchi]): light,
so that registering them imports no telemetry client."""

from __future__ import annotations

from oslo_config import cfg

from artifice.openstack import CREDENTIALS_GROUP  # registered anyway: [service_credentials]

samples_opts = [
    cfg.DictOpt(
        "region_files",
        default={},
        help="Region name to a JSON (or .json.gz) file holding a list of "
        "Ceilometer v2 samples, e.g. RegionOne:/var/lib/artifice/r1.json",
    ),
]


ceilometer_opts = [
    cfg.ListOpt("regions", default=["RegionOne"], help="Regions to read; each is one invoice section."),
    cfg.DictOpt(
        "endpoints",
        default={},
        help="Ceilometer API URL per region (Region:URL,...), overriding the catalog.",
    ),
    cfg.IntOpt("page_size", default=10000, min=10, help="Samples asked for per request (the API's limit)."),
]


# Following Ceilometer's gnocchi_resources.yaml.
DEFAULT_RESOURCE_TYPES = {
    **dict.fromkeys(["instance", "vcpus", "memory", "cpu", "disk.root.size", "disk.ephemeral.size"], "instance"),
    **dict.fromkeys(["volume.size"], "volume"),
    **dict.fromkeys(["image.size", "image.download", "image.serve"], "image"),
    **dict.fromkeys(
        ["network.incoming.bytes", "network.outgoing.bytes", "network.incoming.packets", "network.outgoing.packets"],
        "instance_network_interface",
    ),
    **dict.fromkeys(["disk.device.read.bytes", "disk.device.write.bytes"], "instance_disk"),
    **dict.fromkeys(["ip.floating", "bandwidth"], "network"),
    **dict.fromkeys(["storage.objects", "storage.objects.size", "storage.objects.containers"], "swift_account"),
}


gnocchi_opts = [
    cfg.ListOpt("regions", default=["RegionOne"], help="Regions to read; each is one invoice section."),
    cfg.DictOpt("endpoints", default={}, help="Gnocchi API URL per region (Region:URL,...), overriding the catalog."),
    cfg.StrOpt(
        "auth_group",
        default=CREDENTIALS_GROUP,
        help="Config group holding the keystoneauth options used to reach Gnocchi "
        "(auth_type = password, or gnocchi-basic with user and endpoint).",
    ),
    cfg.DictOpt(
        "resource_types",
        default=DEFAULT_RESOURCE_TYPES,
        help="Gnocchi resource type per meter (meter:type,...), as Ceilometer's "
        "gnocchi_resources.yaml stores them; unlisted meters are searched as generic.",
    ),
    cfg.IntOpt(
        "parallel_requests",
        default=4,
        min=1,
        max=32,
        help="Aggregates queries (one per region and meter) sent at the same time.",
    ),
    cfg.IntOpt(
        "tenants_per_query",
        default=100,
        min=1,
        max=1000,
        help="Tenants a billing pass reads in one aggregates query per region and meter. "
        "Higher means fewer requests and more memory (two batches are held: the one being billed and the next, "
        "read meanwhile); 1 reads tenant by tenant.",
    ),
]
