"""`equilearn keys create|list|revoke`: API keys for the service, in the store named by the settings."""

from __future__ import annotations

import argparse
import json
import sys

# The scope names only, for --help: importing engine.store loads SQLAlchemy and polars (about 1 s); a test
# checks this list against engine.store.keys.SCOPES.
SCOPE_NAMES = ("ingest", "recommend", "audit", "admin", "teach")


def register(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser("keys", help="create, list and revoke API keys for the service")
    actions = keys.add_subparsers(dest="keys_command", required=True)

    create = actions.add_parser("create", help="create a key and print it once (only its hash is stored)")
    create.add_argument("--scope", required=True, help=f"comma-separated scopes: {', '.join(SCOPE_NAMES)}")
    create.add_argument("--name", default="", help="a label to recognise the key by in `keys list`")
    create.add_argument("--classes", default="", help="comma-separated class ids a teach key may see (required with teach)")
    create.add_argument("--json", action="store_true", help="print a JSON object instead of the bare key")
    create.set_defaults(handler=run_create)

    listing = actions.add_parser("list", help="list keys (ids, names, scopes, revocation; never secrets)")
    listing.add_argument("--active", action="store_true", help="hide revoked keys")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=run_list)

    revoke = actions.add_parser("revoke", help="revoke a key by id (or by the key text itself)")
    revoke.add_argument("key_id")
    revoke.set_defaults(handler=run_revoke)


def run_create(args: argparse.Namespace) -> int:
    from engine.store import Store, parse_scopes  # noqa: PLC0415 - heavy, only when the command runs
    from engine.store.keys import check_classes  # noqa: PLC0415

    scopes = parse_scopes(args.scope)  # before opening the database: a typo should not create anything
    classes = [c.strip() for c in getattr(args, "classes", "").split(",") if c.strip()]
    check_classes(scopes, classes)
    with Store.open() as store:
        key, record = store.create_api_key(scopes, args.name, classes=classes)
    if args.json:
        print(json.dumps({"key": key, **record.to_dict(), **({"classes": classes} if classes else {})}))
    else:
        print(key)
        bound = f", classes {','.join(classes)}" if classes else ""
        print(f"(key id {record.id}, scopes {','.join(sorted(record.scopes))}{bound}: store it now, it cannot be shown again)",
              file=sys.stderr)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from engine.store import Store  # noqa: PLC0415

    with Store.open() as store:
        records = store.list_api_keys(include_revoked=not args.active)
        classes = store.key_classes(r.id for r in records)
    if args.json:
        print(json.dumps([{**r.to_dict(), **({"classes": classes[r.id]} if r.id in classes else {})} for r in records], indent=2))
        return 0
    print(f"{'id':<18}{'name':<20}{'scopes':<34}{'created (UTC)':<22}{'revoked':<22}classes")
    for r in records:
        revoked = "-" if r.revoked_at is None else r.revoked_at.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{r.id:<18}{r.name[:19]:<20}{','.join(sorted(r.scopes)):<34}"
              f"{r.created_at.strftime('%Y-%m-%d %H:%M:%S'):<22}{revoked:<22}{','.join(classes.get(r.id, [])) or '-'}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    from engine.store import Store  # noqa: PLC0415

    with Store.open() as store:
        record = store.revoke_api_key(args.key_id)
    print(f"revoked key {record.id} at {record.revoked_at.isoformat()}")
    return 0
