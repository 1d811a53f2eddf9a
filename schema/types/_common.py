"""Pieces every object type uses: global IDs, the Node interface, masked personal data."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import strawberry

from hub.access import require_unmask
from hub.errors import InvalidInput
from hub.models._base import IdMixin
from schema.prefetch import register_relations

if TYPE_CHECKING:
    from strawberry.types import Info

T = TypeVar("T", bound=type)

#: GraphQL type name → ORM model, filled in as types are declared (for ``node(id:)``).
NODE_MODELS: dict[str, type] = {}
#: ORM model → GraphQL type name (for encoding global IDs).
NODE_NAMES: dict[type, str] = {}
#: GraphQL type name → the ORM model its values are rows of, for every type served straight from rows
#: (node types and plain ones alike; ``schema.compiled`` reads rows for them itself).
ROW_MODELS: dict[str, type] = {}


def to_global_id(type_name: str, pk: int | str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode()


#: Primary keys are BIGINT: a longer key cannot exist, and would overflow in the database driver.
MAX_PK = 2**63 - 1


def from_global_id(global_id: str, *, field: str = "id") -> tuple[str, str]:
    """``(type name, primary key)`` of a global ID; ``InvalidInput`` naming ``field`` when it is not one.

    The key is a decimal number of at most 64 bits (ASCII digits only: ``'²'.isdigit()`` is true), so
    callers may ``int()`` it and hand it to the database.
    """
    shown = repr(global_id if len(global_id) <= 60 else global_id[:60] + "…")
    try:
        type_name, _, pk = base64.urlsafe_b64decode(global_id.encode()).decode().partition(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{field} {shown} is not a global ID of this API", field=field) from exc
    if not pk or type_name not in NODE_MODELS:
        raise InvalidInput(f"{field} {shown} is not a global ID of this API", field=field)
    if not (pk.isascii() and pk.isdigit() and 0 < int(pk) <= MAX_PK):
        raise InvalidInput(
            f"{field} {shown} is not a global ID of this API: the key of a {type_name} is a positive 64-bit number",
            field=field,
        )
    return type_name, pk


@strawberry.interface(description="An object with a global ID, fetchable with `node(id:)`.")
class Node:
    @strawberry.field(description="Global ID (opaque).")
    @staticmethod
    def id(parent: strawberry.Parent[IdMixin]) -> strawberry.ID:
        return strawberry.ID(to_global_id(NODE_NAMES[type(parent)], parent.id))

    @strawberry.field(description="The row's primary key in the hub's database.")
    @staticmethod
    def database_id(parent: strawberry.Parent[IdMixin]) -> int:
        return parent.id


def node_type(model: type, *, name: str, description: str) -> Callable[[T], T]:
    """Like ``plain_type``, and registered for global IDs and ``node(id:)``."""
    NODE_MODELS[name] = model
    NODE_NAMES[model] = name
    return plain_type(model, name=name, description=description)


def plain_type(model: type, *, name: str, description: str) -> Callable[[T], T]:
    """Declare a strawberry type served straight from ``model`` instances (no copying), with its
    relation fields (``schema.prefetch.to_one`` / ``to_many``) registered for prefetching."""

    ROW_MODELS[name] = model

    def wrap(cls: T) -> T:
        # Set on the class rather than written in it: strawberry reads ``is_type_of`` when it
        # builds the type, and an abstract type's resolution asks it which model a row is.
        setattr(cls, "is_type_of", classmethod(lambda _cls, obj, _info: isinstance(obj, model)))  # noqa: B010
        strawberry_type = strawberry.type(cls, name=name, description=description)
        register_relations(model, strawberry_type)
        return strawberry_type

    return wrap


def reveal_or_mask(
    info: Info,
    *,
    reveal: bool,
    masked: str | None,
    encrypted: str | None = None,
    plain: str | None = None,
    field: str,
    entity_type: str,
    entity_id: int,
    region_code: str | None,
    mask: Callable[[str], str] | None = None,
) -> str | None:
    """The masked value, or — when asked and allowed — the real one, with the read audited."""
    if not reveal:
        if masked is not None or plain is None:
            return masked
        return mask(plain) if mask else masked
    ctx = info.context
    require_unmask(ctx.require_principal(), field=field)
    if encrypted is not None:
        value: str | None = ctx.cipher.decrypt(encrypted)
    else:
        value = plain
    ctx.audits.append(
        {
            "action": "unmask",
            "entity_type": entity_type,
            "entity_id": entity_id,
            "region_code": region_code,
            "detail": {"field": field},
        }
    )
    return value


Reveal = Annotated[
    bool, strawberry.argument(description="Return the real value (needs the unmask permission; audited).")
]
