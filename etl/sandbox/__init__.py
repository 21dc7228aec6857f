"""The Amili simulator ("sandbox"): ARM, Collection and ADA on one base URL, with faults and a ledger.

It imports nothing from the rest of `etl`: it stands in for the remote side.
"""

from etl.sandbox.app import create_app
from etl.sandbox.config import Credentials, SandboxConfig
from etl.sandbox.embed import EmbeddedSandbox, serve

__all__ = ["create_app", "SandboxConfig", "Credentials", "EmbeddedSandbox", "serve"]
