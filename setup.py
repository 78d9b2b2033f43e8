import setuptools

# The Ceilometer wire scanner is C for speed; without a compiler Artifice still
# installs and reads every page with its pure-Python decoder (slower).
setuptools.setup(
    ext_modules=[
        setuptools.Extension(
            "artifice.collectors._wirescan",
            ["artifice/collectors/_wirescan.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    ]
)
