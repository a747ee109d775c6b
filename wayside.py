"""The `wayside` command: runs the cloud, an edge, the simulators or the whole demo, and admin tasks."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import getpass
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocols.settings import SettingsError
from protocols.site import Direction, SiteDocument, SiteKind, load_site_document

if TYPE_CHECKING:
    from cloud.campus.demo import DemoPerson

log = logging.getLogger("wayside")


async def _until_signalled(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _run_all(jobs: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]]) -> None:
    """Run the parts side by side until Ctrl-C (or one part fails), then stop them all cleanly."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(job(stop)) for job in jobs]
    waiter = asyncio.create_task(_until_signalled(stop))
    done, _ = await asyncio.wait([*tasks, waiter], return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    for task in done:
        if task is not waiter and task.exception() is not None:
            log.error("stopping: %s", task.exception())
    await asyncio.gather(*tasks, return_exceptions=True)
    waiter.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiter


# --- cloud ------------------------------------------------------------------------------------


def _cloud_settings(args: argparse.Namespace) -> Any:
    from cloud.settings import load_cloud_settings

    return load_cloud_settings(Path(args.config), os.environ)


async def _serve_cloud(settings: Any, stop: asyncio.Event) -> None:
    from aiohttp import web

    from cloud.app import build_app

    runner = web.AppRunner(build_app(settings), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        log.info("cloud listening on http://%s:%d", settings.host, settings.port)
        await stop.wait()
    finally:
        await runner.cleanup()


def cmd_cloud(args: argparse.Namespace) -> None:
    settings = _cloud_settings(args)
    asyncio.run(_run_all([lambda stop: _serve_cloud(settings, stop)]))


def cmd_db_upgrade(args: argparse.Namespace) -> None:
    from cloud.db import upgrade

    settings = _cloud_settings(args)
    asyncio.run(upgrade(settings.database_url))
    print(f"database is up to date: {settings.database_url}")


def cmd_user_create(args: argparse.Namespace) -> None:
    from cloud.demo import create_user

    settings = _cloud_settings(args)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()
    if len(password) < 8:
        raise SystemExit("wayside: password must have at least 8 characters")
    asyncio.run(
        create_user(
            settings.database_url,
            tenant=args.tenant,
            account=args.account,
            name=args.name or args.account,
            password=password,
            admin=args.admin,
        )
    )
    print(f"user {args.account} created in tenant {args.tenant}")


# --- edge and simulators ----------------------------------------------------------------------


def _edge_parts(args: argparse.Namespace) -> tuple[Any, SiteDocument]:
    from edge.settings import load_edge_settings

    settings = load_edge_settings(Path(args.config), os.environ)
    return settings, load_site_document(Path(settings.site_file))


def cmd_edge(args: argparse.Namespace) -> None:
    from edge.agent import run_edge

    settings, site = _edge_parts(args)
    asyncio.run(_run_all([lambda stop: run_edge(settings, site, stop)]))


def cmd_edge_enroll(args: argparse.Namespace) -> None:
    from edge.identity import EnrollError, enroll
    from edge.settings import load_edge_settings

    settings = load_edge_settings(Path(args.config), os.environ)
    cloud_url = args.cloud or settings.cloud_url

    async def run() -> None:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            identity = await enroll(
                cloud_url, args.token, settings.key_path, settings.identity_path, session
            )
        print(
            f"enrolled as edge {identity.edge} of {identity.cloud_url}"
            f" (sites: {', '.join(identity.sites) or 'none yet'});"
            f" key in {settings.key_path}, identity in {settings.identity_path}"
        )

    try:
        asyncio.run(run())
    except EnrollError as exc:
        print(f"wayside: enrollment failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_pda(args: argparse.Namespace) -> None:
    """The edge agent with the collector's PDA profile (pages on localhost, receipt printer)."""
    from edge.agent import run_edge

    settings, site = _edge_parts(args)
    settings = settings.model_copy(update={"profile": "pda"})
    asyncio.run(_run_all([lambda stop: run_edge(settings, site, stop)]))


def cmd_sim(args: argparse.Namespace) -> None:
    from firmware_sim.site import run_site_simulators

    site = load_site_document(Path(args.site))
    traffic = args.traffic if args.traffic > 0 else None
    asyncio.run(_run_all([lambda stop: run_site_simulators(site, args.edge_url, stop, traffic)]))


def _demo_pass_holders(
    site: SiteDocument, cloud_url: str, edge_url: str, teacher: DemoPerson
) -> list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]]:
    """The demo teacher shows a phone pass at the first campus entry lane every half minute."""
    from firmware_sim.pass_holder import PassHolder, walk_up_forever

    for config in site.sites:
        if config.kind != SiteKind.campus:
            continue
        for gate, lane in config.lanes():
            if lane.direction == Direction.entry:
                holder = PassHolder(
                    cloud_url, site.tenant, teacher.kind.value, teacher.number,
                    teacher.id_tail, gate.code, lane.code,
                )  # fmt: skip
                return [functools.partial(walk_up_forever, holder, edge_url)]
    return []


def _demo_chargers(
    site: SiteDocument, edge_url: str, serials: tuple[str, ...], cards: tuple[str, ...]
) -> list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]]:
    """The demo station's charge points, on OCPP 1.6J to the edge, with drivers charging."""
    from firmware_sim.charging_site import run_demo_chargers

    if not any(config.kind == SiteKind.charging_station for config in site.sites):
        return []
    ocpp_url = edge_url.replace("http://", "ws://", 1) + "/ocpp"
    return [functools.partial(run_demo_chargers, ocpp_url, serials, cards)]


def cmd_demo(args: argparse.Namespace) -> None:
    from cloud.campus.demo import DEMO_TEACHER
    from cloud.charging.demo import DEMO_CARDS, DEMO_CHARGERS
    from cloud.db import upgrade
    from cloud.demo import DEMO_ACCOUNT, DEMO_PASSWORD, DEMO_REGULARS, seed_demo
    from edge.agent import run_edge
    from edge.identity import IdentityError, enroll, load_identity
    from edge.settings import load_edge_settings
    from firmware_sim.site import run_site_simulators

    cloud_settings = _cloud_settings(args)
    edge_settings = load_edge_settings(Path(args.edge_config), os.environ)
    site = load_site_document(Path(edge_settings.site_file))
    cloud_url = f"http://{cloud_settings.host}:{cloud_settings.port}"
    # Berth sensors meet the edge on a broker embedded in the demo, unless one is configured.
    broker = None
    if not edge_settings.mqtt_url and any(b.sensor for s in site.sites for b in s.berths):
        from firmware_sim.broker import EmbeddedBroker

        broker = EmbeddedBroker()
        edge_settings = edge_settings.model_copy(update={"mqtt_url": broker.url})
    try:
        identity = load_identity(edge_settings.key_path, edge_settings.identity_path)
    except IdentityError:
        identity = None  # the demo enrolls its edge afresh
    if identity is not None and identity.cloud_url != cloud_url:
        identity = None
    edge_code = edge_settings.edge_id or "demo-edge"

    async def prepare() -> str | None:
        await upgrade(cloud_settings.database_url)
        public_key = identity.public_key if identity else ""
        return await seed_demo(cloud_settings.database_url, site, edge_code, public_key)

    token = asyncio.run(prepare())

    async def edge_job(stop: asyncio.Event) -> None:
        if token is not None:
            # The demo enrolls its own edge the way an operator would, once the cloud is up.
            import aiohttp

            async with aiohttp.ClientSession() as session:
                for _ in range(100):
                    try:
                        async with session.get(cloud_url + "/healthz") as resp:
                            if resp.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
                await enroll(
                    cloud_url,
                    token,
                    edge_settings.key_path,
                    edge_settings.identity_path,
                    session,
                )
        await run_edge(edge_settings, site, stop)

    edge_url = f"http://{edge_settings.host}:{edge_settings.port}"
    banner = (
        f"\n  Wayside demo is running.\n"
        f"  Admin UI:  http://{cloud_settings.host}:{cloud_settings.port}/\n"
        f"  Login:     {DEMO_ACCOUNT} / {DEMO_PASSWORD}\n"
        f"  Phones:    {cloud_url}/m/{site.tenant}/  (teacher {DEMO_TEACHER.number} / {DEMO_TEACHER.id_tail})\n"
        f"  Edge:      {edge_url}/healthz\n"
        f"  Berths:    {edge_url}/berths\n"
        f"  Stop with Ctrl-C.\n"
    )

    async def announce(stop: asyncio.Event) -> None:
        await asyncio.sleep(1.0)
        print(banner, flush=True)
        await stop.wait()

    asyncio.run(
        _run_all(
            [
                lambda stop: _serve_cloud(cloud_settings, stop),
                edge_job,
                lambda stop: run_site_simulators(
                    site,
                    edge_url,
                    stop,
                    args.traffic or None,
                    DEMO_REGULARS,
                    mqtt_url=edge_settings.mqtt_url,
                    broker=broker,
                    mobile_base=f"{cloud_url}/m/{site.tenant}",
                ),
                *_demo_pass_holders(site, cloud_url, edge_url, DEMO_TEACHER),
                *_demo_chargers(site, edge_url, DEMO_CHARGERS, DEMO_CARDS),
                announce,
            ]
        )
    )


# --- the parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wayside",
        description="Wayside: gates, parking, charging and properties, from the edge to the cloud.",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="how much to log (default: %(default)s)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def edge_config(p: argparse.ArgumentParser, default: str = "config/edge.toml") -> None:
        p.add_argument(
            "--config", default=default, help="edge settings (default: config/edge.toml)"
        )

    def cloud_config(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config",
            default="config/cloud.toml",
            help="cloud settings file (default: %(default)s); WAYSIDE_* variables override it",
        )

    p = sub.add_parser("cloud", help="run the cloud: admin UI, JSON API, sync server")
    cloud_config(p)
    p.set_defaults(func=cmd_cloud)

    p = sub.add_parser("edge", help="run an edge agent next to the devices (or enroll it)")
    edge_config(p)
    p.set_defaults(func=cmd_edge)
    actions = p.add_subparsers(dest="edge_command", metavar="ACTION")
    e = actions.add_parser(
        "enroll", help="register this edge with the cloud, with the one-time token an admin got"
    )
    edge_config(e, default=argparse.SUPPRESS)  # `wayside edge --config X enroll` keeps X
    e.add_argument("--cloud", default="", help="cloud base URL (default: the settings' cloud_url)")
    e.add_argument("--token", required=True, help="the enrollment token shown in the admin UI")
    e.set_defaults(func=cmd_edge_enroll)

    p = sub.add_parser("pda", help="run a collector's PDA (the edge agent's pda profile)")
    p.add_argument(
        "--config", default="config/pda.toml", help="PDA settings (default: %(default)s)"
    )
    p.set_defaults(func=cmd_pda)
    e = p.add_subparsers(dest="pda_command", metavar="ACTION").add_parser(
        "enroll", help="register this PDA with the cloud, with the one-time token an admin got"
    )
    edge_config(e, default=argparse.SUPPRESS)
    e.add_argument("--cloud", default="", help="cloud base URL (default: the settings' cloud_url)")
    e.add_argument("--token", required=True, help="the enrollment token shown in the admin UI")
    e.set_defaults(func=cmd_edge_enroll)

    p = sub.add_parser("sim", help="run the device simulators of a site document")
    p.add_argument(
        "--site", default="config/demo-site.toml", help="site document (default: %(default)s)"
    )
    p.add_argument("--edge-url", default="http://127.0.0.1:8081", help="where cameras push plates")
    p.add_argument(
        "--traffic", type=float, default=5.0, help="seconds between simulated cars (0: none)"
    )
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("demo", help="run cloud, edge and simulators of the demo site together")
    cloud_config(p)
    p.add_argument(
        "--edge-config", default="config/edge.toml", help="edge settings (default: %(default)s)"
    )
    p.add_argument(
        "--traffic", type=float, default=4.0, help="seconds between simulated cars (0: none)"
    )
    p.set_defaults(func=cmd_demo)

    db = sub.add_parser("db", help="database tasks").add_subparsers(
        dest="db_command", required=True
    )
    p = db.add_parser("upgrade", help="apply the checked-in schema migrations")
    cloud_config(p)
    p.set_defaults(func=cmd_db_upgrade)

    user = sub.add_parser("user", help="user tasks").add_subparsers(
        dest="user_command", required=True
    )
    p = user.add_parser(
        "create", help="create a user (and its tenant if new); asks for the password"
    )
    cloud_config(p)
    p.add_argument("--tenant", required=True, help="tenant code, e.g. demo")
    p.add_argument("--account", required=True, help="login account")
    p.add_argument("--name", default="", help="display name")
    p.add_argument("--admin", action="store_true", help="tenant administrator (every permission)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(func=cmd_user_create)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.log_level != "DEBUG":
        # The ocpp package logs every frame at INFO; our own log says what happened.
        logging.getLogger("ocpp").setLevel(logging.WARNING)
    handler: Callable[[argparse.Namespace], None] = args.func
    try:
        handler(args)
    except SettingsError as exc:
        print(f"wayside: bad setting: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
