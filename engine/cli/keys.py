"""`equilearn keys create|list|revoke`: API keys for the service, in the store named by the settings."""

from __future__ import annotations

import argparse
import json
import sys

from engine.store import SCOPES, Store, parse_scopes


def register(sub: argparse._SubParsersAction) -> None:
    keys = sub.add_parser("keys", help="create, list and revoke API keys for the service")
    actions = keys.add_subparsers(dest="keys_command", required=True)

    create = actions.add_parser("create", help="create a key and print it once (only its hash is stored)")
    create.add_argument("--scope", required=True, help=f"comma-separated scopes: {', '.join(SCOPES)}")
    create.add_argument("--name", default="", help="a label to recognise the key by in `keys list`")
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
    scopes = parse_scopes(args.scope)  # before opening the database: a typo should not create anything
    with Store.open() as store:
        key, record = store.create_api_key(scopes, args.name)
    if args.json:
        print(json.dumps({"key": key, **record.to_dict()}))
    else:
        print(key)
        print(f"(key id {record.id}, scopes {','.join(sorted(record.scopes))}: store it now, it cannot be shown again)",
              file=sys.stderr)
    return 0


def run_list(args: argparse.Namespace) -> int:
    with Store.open() as store:
        records = store.list_api_keys(include_revoked=not args.active)
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=2))
        return 0
    print(f"{'id':<18}{'name':<20}{'scopes':<34}{'created (UTC)':<22}revoked")
    for r in records:
        revoked = "-" if r.revoked_at is None else r.revoked_at.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{r.id:<18}{r.name[:19]:<20}{','.join(sorted(r.scopes)):<34}"
              f"{r.created_at.strftime('%Y-%m-%d %H:%M:%S'):<22}{revoked}")
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    with Store.open() as store:
        record = store.revoke_api_key(args.key_id)
    print(f"revoked key {record.id} at {record.revoked_at.isoformat()}")
    return 0
