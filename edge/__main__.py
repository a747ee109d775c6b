"""`python -m edge [--config PATH]`: run one edge agent until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from edge.agent import run_edge
from edge.settings import DEFAULT_PATH, load_edge_settings
from protocols.settings import SettingsError
from protocols.site import load_site_document


async def _main(config: Path) -> None:
    settings = load_edge_settings(config)
    site = load_site_document(settings.site_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await run_edge(settings, site, stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge", description=__doc__)
    parser.add_argument("--config", type=Path, default=DEFAULT_PATH, help="edge settings TOML")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(_main(args.config))
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
