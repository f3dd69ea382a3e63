"""`equilearn serve [--host 127.0.0.1] [--port 8000]`: run the HTTP service (uvicorn, one process).

Settings come from `EQUILEARN_*` (see docs/service.md); the default host is loopback only: exposing the
service beyond this machine is a deliberate choice (`--host 0.0.0.0`, behind TLS).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from engine.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the HTTP API (docs at /docs)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes (default 1; more need PostgreSQL or accept SQLite's single writer)")
    serve.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    serve.add_argument("--allow-unaudited", action="store_true",
                       help="development only: serve a model set without a PASS for its content (EQUILEARN_ALLOW_UNAUDITED=true); "
                            "every mastery and recommendation response and /readyz then carry a warning")
    serve.set_defaults(handler=run_serve)
    register_demo(sub)


def check_port(host: str, port: int) -> None:
    """`ConfigError` (exit 2) if nothing could listen on host:port now: the port is taken or not ours to use,
    or the host is not an address of this machine. Called before any work, so `make run` on a busy port fails
    at once instead of after training a model set and printing a key nobody can use."""
    if not 0 < port < 65536:
        raise ConfigError(f"--port must be from 1 to 65535, got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host!r} is not an address of this machine ({exc.strerror})") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: a closed port in TIME_WAIT is free
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror or exc}; stop what uses the port or pick "
                              f"another (--port, or make run PORT=...)") from None


def run_serve(args: argparse.Namespace) -> int:
    workers = getattr(args, "workers", 1)
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    check_port(args.host, args.port)
    if getattr(args, "allow_unaudited", False):  # through the environment, so --workers processes see it too
        os.environ["EQUILEARN_ALLOW_UNAUDITED"] = "true"
        print("warning: --allow-unaudited: a model set without a PASS for its content may be served (development only)",
              file=sys.stderr, flush=True)

    import uvicorn  # noqa: PLC0415 - only this command needs the server

    from engine.runtime import load_service_settings  # noqa: PLC0415
    from service.app import create_app  # noqa: PLC0415
    from service.server import uvicorn_options  # noqa: PLC0415

    options = uvicorn_options(load_service_settings())
    print(f"equilearn API on http://{args.host}:{args.port} (docs: http://{args.host}:{args.port}/docs)", flush=True)
    app = "service.app:create_app" if workers > 1 else create_app()
    uvicorn.run(app, factory=workers > 1, workers=workers if workers > 1 else None, host=args.host, port=args.port,
                log_level=args.log_level, **options)
    return 0


def register_demo(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo-serve", help="train + register the demo model set, create a key, seed a student, serve")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--check-port", action="store_true", help="only check that the port is free (exit 2 if not)")
    demo.set_defaults(handler=run_demo_serve)


def run_demo_serve(args: argparse.Namespace) -> int:
    """The end of `make run`: a trained model set, a fresh key, one demo student, then the server. The port is
    checked first: a busy one fails before any training."""
    check_port(args.host, args.port)
    if getattr(args, "check_port", False):
        return 0
    from engine.runtime import Runtime, load_service_settings  # noqa: PLC0415
    from engine.runtime.demo import prepare_demo_model_set  # noqa: PLC0415

    settings = load_service_settings()
    print("training the demo model set (2PL IRT calibrated on simulated demo-catalog responses) and auditing it "
          "(recommendations on simulated learners; the verdict is recorded for its content) ...", flush=True)
    where = prepare_demo_model_set(settings.home, settings.model_set, settings.model_alias, settings.database_url)
    print(f"model set: {where}", flush=True)
    runtime = Runtime.open(load_service_settings())
    key = runtime.store.create_api_key("ingest,recommend", name="make-run demo")[0]
    items = runtime.policy.catalog.item_ids
    runtime.ingest(runtime.events_from_json([
        {"event_id": f"demo-{i}", "student_id": "demo-student", "item_id": items[i * 7 % len(items)],
         "correct": float(i % 3 != 0), "timestamp": None} for i in range(12)]))
    from engine.runtime.demo_school import prepare_demo_school  # noqa: PLC0415

    print("filling the demo school (2 classes, 60 simulated students, 4 weeks of answers) ...", flush=True)
    school = prepare_demo_school(runtime)
    runtime.close()
    base = f"http://{args.host}:{args.port}"
    print(f"""
Pages: {base}/app/   sign in with (each shown once)
  teacher key (class 7A):      {school["teacher_key"]}
  equity-lead key (audit):     {school["equity_key"]}
API key (ingest, recommend; shown once): {key}
Try, once the server below is up:
  curl -s -H 'X-API-Key: {key}' '{base}/v1/students/demo-student/recommendations?k=3'
  curl -s -H 'X-API-Key: {key}' -H 'content-type: application/json' -X POST {base}/v1/events \\
       -d '{{"events": [{{"event_id": "my-1", "student_id": "demo-student", "item_id": "{items[0]}", "correct": 1}}]}}'
Docs: {base}/docs   Ready: {base}/readyz   (Ctrl-C stops)
""", flush=True)
    return run_serve(argparse.Namespace(host=args.host, port=args.port, log_level="warning"))
