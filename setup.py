import setuptools

# The telemetry scanners are C for speed; without a compiler Artifice still
# installs and decodes every answer with its general (Python) decoders, slower.
setuptools.setup(
    ext_modules=[
        setuptools.Extension(
            "artifice.collectors._wirescan",
            [f"artifice/collectors/_scan/{name}.c" for name in ("module", "ceilometer", "gnocchi")],
            depends=[f"artifice/collectors/_scan/{name}.h" for name in ("json", "columns", "scan")],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-override-init"],
            optional=True,
        )
    ]
)
