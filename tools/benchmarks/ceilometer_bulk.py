"""Write samples into a Ceilometer 9 database with Ceilometer's own storage code, in bulk.

    ~/.cache/artifice/ceilometer-venv/bin/python tools/benchmarks/ceilometer_bulk.py DIR/ceilometer.conf < samples.jsonl

Runs in the Ceilometer venv (tools/servers/ceilometer.sh), not in Artifice's.
Each input line is a JSON list of samples in the v2 API's form. Every sample
goes through what ``POST /v2/meters/<name>?direct=True`` does with it
(``sample.Sample``, ``restore_nesting`` of the metadata,
``meter_message_from_counter``, ``normalize_time``) and is stored the way
``impl_sqlalchemy.Connection.record_metering_data`` stores it (its own
``_create_meter`` and ``_create_resource``, then a row in ``sample``), except
that meters and resources are looked up once, not per sample, and the sample
rows of a line go in one ``executemany`` and one transaction. The API writes
about a hundred samples a second on this machine, which makes a month of 100
tenants take hours; this writes the same rows in seconds. The sample's
``source`` is kept as given (as Ceilometer's agents store it), where the API
would have prefixed it with the project id.
"""

import json
import sys

from ceilometer import sample, service, storage, utils
from ceilometer.publisher import utils as publisher_utils
from ceilometer.storage.sqlalchemy import models
from oslo_utils import timeutils


def main(conf_path):
    conf = service.prepare_service(argv=["ceilometer_bulk"], config_files=[conf_path])
    connection = storage.get_connection_from_config(conf)
    engine = connection._engine_facade.get_engine()
    secret = conf.publisher.telemetry_secret
    meters, resources = {}, {}
    written = 0
    for line in sys.stdin:
        rows = []
        with engine.begin() as conn:
            for posted in json.loads(line):
                published = sample.Sample(
                    name=posted["counter_name"],
                    type=posted["counter_type"],
                    unit=posted["counter_unit"],
                    volume=posted["counter_volume"],
                    user_id=posted["user_id"],
                    project_id=posted["project_id"],
                    resource_id=posted["resource_id"],
                    timestamp=posted["timestamp"],
                    resource_metadata=utils.restore_nesting(posted["resource_metadata"], separator="."),
                    source=posted["source"],
                )
                data = publisher_utils.meter_message_from_counter(published, secret)
                data["timestamp"] = timeutils.normalize_time(timeutils.parse_isotime(data["timestamp"]))
                meter_key = (data["counter_name"], data["counter_type"], data["counter_unit"])
                if meter_key not in meters:
                    meters[meter_key] = connection._create_meter(conn, *meter_key)
                metadata = data["resource_metadata"]
                resource_key = (
                    data["resource_id"],
                    data["user_id"],
                    data["project_id"],
                    data["source"],
                    json.dumps(metadata, sort_keys=True),
                )
                if resource_key not in resources:
                    resources[resource_key] = connection._create_resource(conn, *resource_key[:4], metadata)
                rows.append(
                    {
                        "meter_id": meters[meter_key],
                        "resource_id": resources[resource_key],
                        "timestamp": data["timestamp"],
                        "volume": data["counter_volume"],
                        "message_signature": data["message_signature"],
                        "message_id": data["message_id"],
                    }
                )
            if rows:
                conn.execute(models.Sample.__table__.insert(), rows)
        written += len(rows)
    print(written)


if __name__ == "__main__":
    main(sys.argv[1])
