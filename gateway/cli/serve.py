"""Running gateways: ``serve``, ``health`` and the two-gateway ``demo``."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.cli._common import _client, _print_json

__all__ = ["cmd_demo", "cmd_health", "cmd_serve"]


def cmd_demo(a: argparse.Namespace) -> int:
    from gateway.cli.demo import run_demo

    return run_demo(workdir=Path(a.workdir) if a.workdir else None, lang=a.lang,
                    serve=a.serve, suite=a.suite)


def cmd_serve(a: argparse.Namespace) -> int:
    import asyncio
    import gc
    import signal

    from gateway.node.config import load_config
    from gateway.node.gateway import Gateway
    from gateway.node.logs import configure_logging

    configure_logging(a.log_level)
    cfg = load_config(Path(a.home))

    async def run() -> None:
        gw = Gateway(cfg)
        await gw.start()
        # What start-up made (modules, protobuf descriptors, the apps: some 140,000 objects)
        # lives as long as the process: out of the cyclic collector's way, so that a full
        # collection walks only what requests made since, instead of stopping the event loop
        # for tens of milliseconds each time (the latency tail).
        gc.collect()
        gc.freeze()
        print(f"serving {cfg.office_id}: peer API on {cfg.peer_host}:{gw.peer_port}, "
              f"officer API on {cfg.api_host}:{gw.api_port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await gw.stop()

    asyncio.run(run())
    return 0


def cmd_health(a: argparse.Namespace) -> int:
    _print_json(_client(a).health())
    return 0
