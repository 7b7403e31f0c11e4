"""Value types shared by the settings sections: allow-lists written once, so every port,
duration and size is checked the same way and `config show --doc` can print the limits."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

Port = Annotated[int, Field(ge=1, le=65535)]
# A duration or interval that must pass: zero would spin or expire at once.
Seconds = Annotated[float, Field(gt=0)]
# A grace period or wait where zero means "no wait".
SecondsOrZero = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=1)]
Bytes = Annotated[int, Field(ge=1)]
# A host name or address: letters, digits, dots, dashes, colons (IPv6), no spaces or schemes.
Host = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9._:\-]+$")]
# Kafka's own rule for topic and group names.
KafkaName = Annotated[str, Field(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._\-]+$")]


def _int_as_text(value: Any) -> Any:
    """TOML `acks = 1` and env `ACKS=1` both mean the choice "1"."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _upper(value: Any) -> Any:
    """librdkafka reads protocol and mechanism names in any case; the choices are spelled upper."""
    return value.upper() if isinstance(value, str) else value


IntAsText = BeforeValidator(_int_as_text)
UpperCase = BeforeValidator(_upper)
