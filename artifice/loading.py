"""Load plugins by stevedore entry-point name or by ``module:Class``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from stevedore import driver
from stevedore.exception import NoMatches

from artifice.exceptions import PluginLoadError

T = TypeVar("T")


def load_class(namespace: str, ref: str, base: type[T], config_key: str) -> type[T]:
    """Resolve ``ref`` to a subclass of ``base``.

    ``ref`` is an entry-point name in ``namespace`` or ``python.module:Class``.
    Every failure names ``config_key`` so the operator knows what to fix.
    """
    if ":" in ref:
        cls = _import_ref(ref, config_key)
    else:
        try:
            manager: driver.DriverManager[type] = driver.DriverManager(
                namespace,
                ref,
                invoke_on_load=False,
                on_missing_entrypoints_callback=lambda names: None,
                on_load_failure_callback=_raise_load_failure(config_key, ref),
            )
            cls = manager.driver
        except (NoMatches, RuntimeError) as exc:
            raise PluginLoadError(
                f"{config_key} = {ref}: no {namespace} plugin named {ref!r} "
                "(use an installed name or 'python.module:ClassName')"
            ) from exc
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PluginLoadError(
            f"{config_key} = {ref}: {cls!r} is not a subclass of {base.__module__}.{base.__qualname__}"
        )
    return cls


def _raise_load_failure(config_key: str, ref: str) -> Callable[[Any, Any, BaseException], None]:
    def fail(_manager: Any, entry_point: Any, exc: BaseException) -> None:
        raise PluginLoadError(f"{config_key} = {ref}: plugin {entry_point} failed to load: {exc}") from exc

    return fail


def _import_ref(ref: str, config_key: str) -> object:
    module_name, _, attr_path = ref.partition(":")
    if not module_name or not attr_path:
        raise PluginLoadError(f"{config_key} = {ref}: expected 'python.module:ClassName'")
    try:
        obj: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise PluginLoadError(f"{config_key} = {ref}: cannot import module {module_name!r}: {exc}") from exc
    for attr in attr_path.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise PluginLoadError(
                f"{config_key} = {ref}: module {module_name!r} has no attribute {attr_path!r}"
            ) from None
    return obj
