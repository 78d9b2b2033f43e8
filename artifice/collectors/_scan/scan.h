/* The scanners the module exposes, one per telemetry format. */
#ifndef ARTIFICE_SCAN_H
#define ARTIFICE_SCAN_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

PyObject *scan_samples(PyObject *module, PyObject *body);    /* ceilometer.c */
PyObject *scan_aggregates(PyObject *module, PyObject *body); /* gnocchi.c */

#endif
