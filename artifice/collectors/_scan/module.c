/* artifice.collectors._wirescan: telemetry answers read straight into columns (see each scanner). */
#include "scan.h"

static PyMethodDef methods[] = {
    {"scan_samples", scan_samples, METH_O,
     "scan_samples(body) -> (n, codes, distinct, plain, timestamps, volumes) | None: a Ceilometer v2 page"},
    {"scan_aggregates", scan_aggregates, METH_O,
     "scan_aggregates(body) -> (n, codes, ids, timestamps, values) | None: a Gnocchi aggregates answer"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef definition = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_wirescan",
    .m_doc = "Telemetry answers (Ceilometer v2 pages, Gnocchi aggregates) read straight into columns.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__wirescan(void) { return PyModule_Create(&definition); }
