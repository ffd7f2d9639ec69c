"""Auditing a live system: the service protocol, an HTTP client and loopback server, and the
remote platform that puts a service behind pixelpush's ordinary attacker client."""

from pixelpush.integrations.remote.http import HttpService, ServiceServer, serve
from pixelpush.integrations.remote.platform import RemotePlatform
from pixelpush.integrations.remote.service import FunctionService, PlatformService, RecommenderService, ServiceError

__all__ = [
    "FunctionService",
    "HttpService",
    "PlatformService",
    "RecommenderService",
    "RemotePlatform",
    "ServiceError",
    "ServiceServer",
    "serve",
]

