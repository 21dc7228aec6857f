"""Key pairs and JWTs for the signed ADA login tests (cryptography + PyJWT, as a creditor would make them)."""

from __future__ import annotations

import base64
import time
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def new_ec_key(curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    """A fresh EC private key (P-256 unless told)."""
    return ec.generate_private_key(curve or ec.SECP256R1())


def new_rsa_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA private key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: Any) -> str:
    """The PEM (SubjectPublicKeyInfo) of a private key's public half: what a creditor registers."""
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def private_pem(key: Any) -> str:
    """The unencrypted PKCS#8 PEM of a private key (what amili-etl's ada_private_key_env holds)."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def signed(code: str, key: Any, alg: str = "ES256", exp_in: float | None = 600.0) -> str:
    """The api-code JWT {api_code, exp: now + exp_in} signed with `key`; no exp when exp_in is None."""
    claims: dict[str, Any] = {"api_code": code}
    if exp_in is not None:
        claims["exp"] = int(time.time() + exp_in)
    return jwt.encode(claims, key, algorithm=alg)


def unsigned(claims: dict[str, Any]) -> str:
    """A JWT with `alg: none` and an empty signature."""
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."
