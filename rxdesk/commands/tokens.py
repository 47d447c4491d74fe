"""`rxdesk secrets ...`, `rxdesk token verify`, `rxdesk booking hold|confirm|cancel`.

Wherever a token is expected, `-` reads it from stdin, so it need not sit in shell history or
the process list.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from typing import TYPE_CHECKING

from rxdesk.commands import CommandLine, Context, add_json
from rxdesk.domain.times import format_local, parse_instant

if TYPE_CHECKING:
    from rxdesk.domain.models import Appointment

RETIRED_NEW_KEY_ENV = "RXDESK_NEW_MASTER_KEY"


def _token(value: str) -> str:
    if value == "-":
        return sys.stdin.readline().strip()
    return value


def _when(ctx: Context, value: datetime | None) -> str:
    return format_local(value, ctx.timezone) if value else "-"


# -- secrets --------------------------------------------------------------------------


def secrets_create(args: argparse.Namespace, ctx: Context) -> int:
    made = ctx.desk.secrets.create_secret(args.label, ctx.agent)
    if args.json:
        ctx.json(made.to_json())
    else:
        ctx.fields([("key_id", made.secret.key_id), ("secret", made.value), ("label", made.secret.label or "-")])
    ctx.err.write(
        "store the secret now in the partner's minter; it signs tokens with it as HS256, "
        f"kid {made.secret.key_id} (shown again only with `rxdesk secrets reveal`, audited)\n"
    )
    return 0


def secrets_list(args: argparse.Namespace, ctx: Context) -> int:
    rows = ctx.desk.secrets.list_secrets()
    if args.json:
        ctx.json([r.to_json() for r in rows])
        return 0
    ctx.table(
        ["KEY_ID", "LABEL", "CREATED", "BY", "STATUS", "LAST USED"],
        [
            [
                r.key_id,
                r.secret.label or "-",
                _when(ctx, r.secret.created_at),
                r.secret.created_by,
                (f"revoked {_when(ctx, r.secret.revoked_at)}" if not r.secret.active
                 else "active, idle" if r.idle else "active"),
                _when(ctx, r.secret.last_used_at) if r.secret.last_used_at else "never",
            ]
            for r in rows
        ],
        empty="no booking secrets yet (rxdesk secrets create --label TEXT)",
    )
    return 0


def secrets_reveal(args: argparse.Namespace, ctx: Context) -> int:
    shown = ctx.desk.secrets.reveal(args.key_id, ctx.agent)
    if args.json:
        ctx.json(shown.to_json())
    else:
        ctx.print(shown.value)
    return 0


def secrets_revoke(args: argparse.Namespace, ctx: Context) -> int:
    revoked = ctx.desk.secrets.revoke(args.key_id, ctx.agent)
    if args.json:
        ctx.json(revoked.public())
    else:
        ctx.print(f"revoked {revoked.key_id}: tokens with this kid are refused from now on")
    return 0


def secrets_rotate_master_key(args: argparse.Namespace, ctx: Context) -> int:
    if os.environ.get(RETIRED_NEW_KEY_ENV):
        from rxdesk.domain.errors import ConfigError

        raise ConfigError(f"{RETIRED_NEW_KEY_ENV} is no longer read: with RXDESK_MASTER_KEY put the new key "
                          "first (RXDESK_MASTER_KEY=NEW,OLD); with master.key the rotation makes and stores "
                          "the new key itself; nothing was changed")
    result = ctx.desk.secrets.rotate_master_key(ctx.agent)
    if args.json:
        ctx.json(result.to_json())
    else:
        ctx.print(
            f"re-encrypted {result.booking_secrets} booking secret(s) and "
            f"{result.subscriptions} webhook secret(s) under the new master key"
        )
    if result.key_source == "RXDESK_MASTER_KEY":
        ctx.err.write("every secret is now under the first key of RXDESK_MASTER_KEY; remove the old key(s) "
                      "from RXDESK_MASTER_KEY wherever rxdesk runs on this data dir\n")
    else:
        ctx.err.write(f"the new key is in {result.key_source}; the old one was removed from it\n")
    return 0


def secrets_new_master_key(args: argparse.Namespace, ctx: Context) -> int:
    from rxdesk.services.crypto import new_master_key

    ctx.print(new_master_key())
    return 0


# -- token ----------------------------------------------------------------------------


def token_verify(args: argparse.Namespace, ctx: Context) -> int:
    verified = ctx.desk.tokens.verify(_token(args.jwt))
    if args.json:
        ctx.json(verified.claims)
        return 0
    p = verified.patient
    ctx.fields(
        [
            ("valid", "yes"),
            ("patient", f"{p.name} ({p.id})"),
            ("sub", str(verified.claims.get("sub"))),
            ("kid", verified.kid),
            ("issued", _when(ctx, verified.issued_at)),
            ("expires", _when(ctx, verified.expires_at)),
        ]
    )
    return 0


# -- booking --------------------------------------------------------------------------


def _print_appointment(ctx: Context, appt: Appointment, verb: str) -> None:
    ctx.print(f"{verb} {appt.uid}: {appt.doctor_id}, {appt.type_key}, {_when(ctx, appt.starts_at)} ({ctx.timezone})")


def booking_hold(args: argparse.Namespace, ctx: Context) -> int:
    start = parse_instant(args.start, what="--start")
    appt = ctx.desk.booking.hold(_token(args.token), args.doctor, args.type, start)
    if args.json:
        ctx.json(appt.to_json())
    else:
        _print_appointment(ctx, appt, "held")
        ctx.print(f"confirm before {_when(ctx, appt.hold_expires_at)}: rxdesk booking confirm {appt.uid} --token JWT")
    return 0


def booking_confirm(args: argparse.Namespace, ctx: Context) -> int:
    appt = ctx.desk.booking.confirm(_token(args.token), args.uid)
    if args.json:
        ctx.json(appt.to_json())
    else:
        _print_appointment(ctx, appt, "confirmed")
    return 0


def booking_cancel(args: argparse.Namespace, ctx: Context) -> int:
    appt = ctx.desk.booking.cancel(_token(args.token), args.uid)
    if args.json:
        ctx.json(appt.to_json())
    else:
        _print_appointment(ctx, appt, "cancelled")
    return 0


def register(cli: CommandLine) -> None:
    p = cli.command("secrets", "create", secrets_create,
                    help="a new booking secret; prints its key_id and value (store it now)")
    p.add_argument("--label", metavar="TEXT", help="who or what uses it, e.g. 'Shopify storefront'")
    add_json(p)
    p = cli.command("secrets", "list", secrets_list, help="booking secrets (never their values)")
    add_json(p)
    p = cli.command("secrets", "reveal", secrets_reveal, help="print an active secret's value (audited)")
    p.add_argument("key_id", metavar="KEY_ID")
    add_json(p)
    p = cli.command("secrets", "revoke", secrets_revoke,
                    help="revoke a secret now: its tokens are refused from the next call")
    p.add_argument("key_id", metavar="KEY_ID")
    add_json(p)
    p = cli.command(
        "secrets", "rotate-master-key", secrets_rotate_master_key,
        help="re-encrypt every stored secret under a new master key",
        description="Re-encrypt every booking secret and webhook signing secret under a new master "
        "key, in one write; no key is printed. With master.key in the data dir the rotation makes the "
        "new key, stores it in front of the old one before anything is re-encrypted, and removes the "
        "old one at the end. With RXDESK_MASTER_KEY, set it to NEW,OLD (NEW from `rxdesk secrets "
        "new-master-key`) wherever rxdesk runs, run the rotation, then set it to NEW alone.",
    )
    add_json(p)
    cli.command("secrets", "new-master-key", secrets_new_master_key,
                help="print a fresh master key (changes nothing)")

    p = cli.command("token", "verify", token_verify,
                    help="check a patient booking token; exit 1 with the reason when refused")
    p.add_argument("jwt", metavar="JWT", help="the token, or - to read it from stdin")
    add_json(p)

    p = cli.command("booking", "hold", booking_hold, help="hold a free slot for the token's patient")
    p.add_argument("--token", required=True, metavar="JWT", help="a patient booking token (- reads stdin)")
    p.add_argument("--doctor", required=True, metavar="ID")
    p.add_argument("--type", required=True, metavar="KEY")
    p.add_argument("--start", required=True, metavar="ISO", help="the slot's start, e.g. 2026-11-25T09:00:00Z")
    add_json(p)
    p = cli.command("booking", "confirm", booking_confirm, help="confirm the token's patient's hold")
    p.add_argument("uid", metavar="UID")
    p.add_argument("--token", required=True, metavar="JWT", help="a patient booking token (- reads stdin)")
    add_json(p)
    p = cli.command("booking", "cancel", booking_cancel,
                    help="cancel as the patient (at least the type's cancellation notice ahead)")
    p.add_argument("uid", metavar="UID")
    p.add_argument("--token", required=True, metavar="JWT", help="a patient booking token (- reads stdin)")
    add_json(p)
