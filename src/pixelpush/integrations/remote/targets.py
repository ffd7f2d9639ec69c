"""The service behind a ``[models.NAME] service = ...`` table, and a unit's platform over it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pixelpush.errors import ConfigError
from pixelpush.evaluation.config import ModelConfig
from pixelpush.integrations.factory import ModelContext, resolve
from pixelpush.integrations.remote.http import HttpService
from pixelpush.integrations.remote.platform import RemotePlatform
from pixelpush.integrations.remote.service import RecommenderService

__all__ = ["platform_service", "service_for", "unit_platform"]


def service_for(spec: ModelConfig, context: Callable[[], ModelContext] | None = None) -> RecommenderService:
    """An :class:`HttpService` for a URL, or what ``module:function`` returns (called with a
    :class:`ModelContext` and the table's options)."""
    target = spec.service
    if target is None:
        raise ConfigError("not a service: the model has no service = ... setting")
    if target.startswith(("http://", "https://")):
        return HttpService(target, timeout=spec.timeout, retries=spec.retries, max_requests=spec.max_requests)
    if context is None:
        raise ConfigError(f"service {target}: a function service needs the campaign's data")
    service = resolve(target, path=spec.path, what="service")(context(), **spec.options)
    missing = [m for m in ("info", "open_session", "close_session", "register_user", "upload_image", "image") if not hasattr(service, m)]
    if missing:
        raise ConfigError(f"service {target} returned a {type(service).__name__} without {', '.join(missing)} (see docs/remote-service.md)")
    return service


def unit_platform(ctx: Any, name: str, seed: int) -> RemotePlatform:
    """A fresh session of model `name`'s service for one unit of campaign context `ctx`."""
    spec = ctx.services[name]
    if spec.service.startswith(("http://", "https://")):
        service = service_for(spec)  # one client per unit: its request cap is per unit
    else:
        if name not in ctx.live:
            ctx.live[name] = service_for(spec, lambda: _context(ctx, name))
        service = ctx.live[name]
    return RemotePlatform(service, seed=seed, consumed=ctx.dataset.histories, visible_fraction=ctx.config.visible_fraction)


def _context(ctx: Any, name: str) -> ModelContext:
    from pixelpush.random import derive_seed
    from pixelpush.recommenders.split import campaign_split

    data = ctx.dataset
    split = campaign_split(data.interactions, data.n_users, data.n_items, seed=ctx.config.seed)
    return ModelContext(name, data, ctx.features.copy(), split, derive_seed(ctx.config.seed, "model", name), ctx.image_model.identity)


def platform_service(ctx: Any, name: str) -> Any:
    """A :class:`PlatformService` over campaign context `ctx`'s model `name`: every session a fresh
    platform over a copy of the model, the catalog's images and features, seeded by the session."""
    import copy

    from pixelpush.integrations.remote.service import PlatformService
    from pixelpush.platform.platform import Platform
    from pixelpush.vision.memo import FeatureMemo

    if name not in ctx.recommenders:
        raise ConfigError(f"model {name!r} is not loaded in this campaign (known: {', '.join(ctx.recommenders)})")
    model = ctx.recommenders[name]

    def make(seed: int) -> Platform:
        return Platform(
            copy.deepcopy(model), ctx.dataset.images, ctx.image_model, features=ctx.features, consumed=ctx.dataset.histories,
            visible_fraction=ctx.config.visible_fraction, seed=seed, memo=FeatureMemo(ctx.image_model),
        )

    return PlatformService(make)
