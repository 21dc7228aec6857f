"""The Amili simulator ("sandbox"): ARM, Collection and ADA on one base URL; imports nothing else from etl."""

from etl.sandbox.app import create_app
from etl.sandbox.config import Credentials, Login, SandboxConfig
from etl.sandbox.embed import EmbeddedSandbox, serve

__all__ = ["create_app", "SandboxConfig", "Credentials", "Login", "EmbeddedSandbox", "serve"]
