"""`equilearn experiment ...` and `equilearn model ...`: reproducible runs, comparison, and gated promotion.

    equilearn experiment run experiments/configs/assistments09.toml [--data-root DIR] [--max-students N] [--seed S]
    equilearn experiment compare RUN_ID RUN_ID ...          # or comma-separated
    equilearn model list
    equilearn model promote NAME VERSION --alias champion [--audit AUDIT.json ...] [--policy POLICY.toml]
    equilearn model build --catalog CATALOG (--data LOG --format F | --from-store) [--out FILE] [--register NAME]
                          [--predictor auto|bkt|blend|irt] [--engine local|ray [--ray-address ADDR]]
    equilearn model audit NAME VERSION | --file SET.json [--data LOG --format F --roster R.csv [--groups g1,g2]]
                          [--out REPORT.json] [--database-url URL]

`model build` fits every served component from a response log against a catalog (`engine.modelbuild`), prints
the fit diagnostics and writes the model set (`--out`, for EQUILEARN_MODEL_SET_FILE) and/or registers it.
`model audit` runs the whole pre-deployment audit of one set (`engine.fairness.predeployment`: recommendations
on simulated learners per group, the learner-model suite as evidence, DIF and the model audit when a log and
a roster are given), prints one verdict, writes the report and records it in the service's audit table
(`--database-url`, default the configured store) bound to the set's content hash; exit 0 PASS, 1 FAIL, 2
INSUFFICIENT_EVIDENCE. `model promote` records the given audit results (each must name the version's content
hash; with --policy they are re-gated together under that policy) and promotes the version only if the
service's audit table holds a PASS for its content.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.cli.loading import add_loader_options, loader_options
from engine.cli.output import write_json
from engine.distributed import add_engine_options, resolve_engine
from engine.errors import ConfigError
from engine.jsonfile import read_json


def register(sub: argparse._SubParsersAction) -> None:
    exp = sub.add_parser("experiment", help="run experiments from TOML configs and compare MLflow runs").add_subparsers(
        dest="experiment_command", required=True)
    run = exp.add_parser("run", help="train + evaluate every configured model (KT protocol), log to MLflow")
    run.add_argument("config", help="experiment TOML, e.g. experiments/configs/assistments09.toml")
    run.add_argument("--data-root", help="folder the config's data.path is relative to (default: EQUILEARN_DATA_ROOT, "
                                         "the config's data.root, ../shared/data)")
    run.add_argument("--max-students", type=int,
                     help="quick run: N students per side when the data carries its own split, else N in all before the split")
    run.add_argument("--seed", type=int, help="override experiment.seed")
    run.add_argument("--models", help="override models.names: comma-separated zoo names, or 'all'")
    run.add_argument("--markdown", help="also write the results table (Markdown) here, e.g. experiments/results/kt_x.md")
    run.add_argument("--out", help="write the result JSON here")
    run.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    run.add_argument("--no-log-models", action="store_true",
                     help="skip the per-model pyfunc (faster); the fitted parameters are still logged as JSON")
    run.set_defaults(handler=run_run)

    cmp = exp.add_parser("compare", help="a table of the metrics of several runs")
    cmp.add_argument("run_ids", nargs="+", help="MLflow run ids (space- or comma-separated)")
    cmp.add_argument("--markdown", action="store_true", help="print a Markdown table")
    cmp.add_argument("--json", action="store_true", help="print JSON rows")
    cmp.set_defaults(handler=run_compare)

    model = sub.add_parser("model", help="the model-set registry: list, promote (fairness-gated)").add_subparsers(
        dest="model_command", required=True)
    promote = model.add_parser("promote", help="give a model-set version an alias if its fairness audit passed")
    promote.add_argument("name")
    promote.add_argument("version")
    promote.add_argument("--alias", default="champion")
    promote.add_argument("--audit", action="append", default=[], help="audit result JSON to record first (repeatable)")
    promote.add_argument("--policy", help="re-gate the --audit results together under this policy TOML")
    promote.add_argument("--reason", help="why a FAIL recorded for the same content is lifted by a --audit result "
                                          "(required then; recorded with it)")
    promote.add_argument("--database-url", help="the service's database, whose audit table decides (default: "
                                                "EQUILEARN_DATABASE_URL, else the SQLite file under EQUILEARN_HOME)")
    promote.set_defaults(handler=run_promote)
    lst = model.add_parser("list", help="registered model-set versions with aliases and audit status")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=run_list)
    register_build(model)
    register_audit(model)


PREDICTOR_CHOICES = ("auto", "bkt", "blend", "irt")  # engine.modelbuild.predictor.PREDICTORS (not imported: slow)


def register_build(model: argparse._SubParsersAction) -> None:
    from engine.cli.loading import FORMAT_NAMES as FORMATS  # names only: --help imports no data library

    build = model.add_parser("build", help="fit every served component from a response log against a catalog, "
                                           "print diagnostics, write and/or register the model set")
    build.add_argument("--catalog", required=True, help="catalog bundle: folder or one .toml/.json file")
    source = build.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="response log (file or folder), read with --format")
    source.add_argument("--from-store", action="store_true",
                        help="read the service's own event log (EQUILEARN_DATABASE_URL) instead, in chunks of students, "
                             "and measure each resource by what followed it in the service's served log")
    build.add_argument("--format", choices=sorted(FORMATS), help="format of --data (e.g. generic for your own CSV)")
    add_loader_options(build)
    build.add_argument("--out", help="write the model-set JSON here (serve it with EQUILEARN_MODEL_SET_FILE=FILE)")
    build.add_argument("--register", metavar="NAME", help="register the set as a new version of NAME in MLflow")
    build.add_argument("--name", help="model-set name written to --out (default: the --register NAME, else equilearn)")
    build.add_argument("--predictor", default="auto", choices=PREDICTOR_CHOICES,
                       help="served predictor of success: bkt, irt, their blend, or auto (held-out AUC picks the blend weight)")
    build.add_argument("--model", default="auto", choices=("auto", "rasch", "1pl", "2pl", "3pl"),
                       help="IRT model of the item bank; auto (default): 3PL when the held-out students' answers show "
                            "guessing beyond the noise, else 2PL")
    build.add_argument("--min-item-responses", type=int, default=30,
                       help="items with fewer responses keep the catalog's parameters (default 30)")
    build.add_argument("--test-fraction", type=float, default=0.2, help="share of students held out to score the predictor")
    build.add_argument("--mastery-success", type=float, default=None,
                       help="the success rate on a skill's typical item that your platform counts as mastered (default "
                            "0.8): the mastered flag, and when the recommender moves on")
    build.add_argument("--ability-share", type=float, default=0.0,
                       help="share (0-1) of the per-skill ability's view of mastery the recommender reads on practised "
                            "skills (default 0: the skill model alone); 0.25 suits learners who keep improving after a "
                            "skill model calls a skill learned, and costs learners who either know a skill or not "
                            "(docs/engine.md, \"Two views of mastery\")")
    build.add_argument("--seed", type=int, default=0, help="held-out split and skill-model restarts")
    build.add_argument("--ignore-unknown-items", action="store_true",
                       help="leave out log rows naming items the catalog lacks (reported), instead of stopping")
    build.add_argument("--apply-item-tags", action="store_true",
                       help="retag the items whose answers follow another skill than their tag (reported either way; "
                            "needs a large log) before fitting; the set's catalog carries the new tags")
    build.add_argument("--json", action="store_true", help="print the diagnostics as JSON instead of the table")
    add_engine_options(build, parquet_folders=False)  # the item bank's and the skill model's fits; the rest runs here
    build.set_defaults(handler=run_build)


def register_audit(model: argparse._SubParsersAction) -> None:
    from engine.cli.loading import FORMAT_NAMES as FORMATS  # names only: --help imports no data library

    audit = model.add_parser("audit", help="the whole pre-deployment audit of a model set: one verdict, recorded in the "
                                           "service's audit table and bound to the set's content hash")
    audit.add_argument("name", nargs="?", help="registered model-set name (with VERSION)")
    audit.add_argument("version", nargs="?", help="registered version")
    audit.add_argument("--file", help="audit a model-set file (what EQUILEARN_MODEL_SET_FILE serves) instead")
    audit.add_argument("--data", help="a response log of the set's catalog items, for DIF and the model audit (students "
                                      "the set was not fitted on give held-out figures)")
    audit.add_argument("--format", choices=sorted(FORMATS), help="format of --data (e.g. generic)")
    add_loader_options(audit)
    audit.add_argument("--roster", help="student_id + group columns (CSV/TSV/Parquet), for DIF and the model audit")
    audit.add_argument("--groups", help="comma-separated roster columns to audit ('*' joins an intersection for the "
                                        "model audit); default: every roster column")
    audit.add_argument("--catalog", help="the catalog to serve a set that carries none (default: the demo catalog)")
    audit.add_argument("--policy", help="gate policy TOML for DIF and the model audit (default: the packaged default)")
    audit.add_argument("--recommendations-policy", help="gate policy TOML for the simulated recommendations "
                                                        "(default: simulated_recommendations.toml)")
    audit.add_argument("--sim-students", type=int, default=500, help="simulated learners of the recommendation audit")
    audit.add_argument("--sim-students-max", type=int, default=4000,
                       help="while the recommendation gate lacks evidence (groups too small), the simulation is rerun "
                            "with twice the learners up to this many (default 4000)")
    audit.add_argument("--sim-steps", type=int, default=80, help="activities per simulated learner (default 80)")
    audit.add_argument("--sim-seed", type=int, default=11)
    audit.add_argument("--suite-students", type=int, default=200, help="students per learner-suite setting (0: no suite)")
    audit.add_argument("--suite-steps", type=int, default=40)
    audit.add_argument("--suite-seeds", default="1", help="comma-separated seeds of the learner suite")
    audit.add_argument("--suite-settings", help="comma-separated settings of engine.simulate.suite (default: "
                                                "bkt,curve,proficiency-peak60,misspecified-15)")
    audit.add_argument("--bootstrap", type=int, help="bootstrap resamples of DIF and the model audit (default: the policy's)")
    audit.add_argument("--dif-method", default="mh", choices=["mh", "logistic"])
    audit.add_argument("--dif-adjust", default="holm", choices=["none", "holm", "bh", "bonferroni"],
                       help="multiple-comparison adjustment of the DIF p-values across the items (default holm)")
    audit.add_argument("--out", help="write the full JSON report here")
    audit.add_argument("--database-url", help="record the verdict in this service database (default: EQUILEARN_DATABASE_URL, "
                                              "else the SQLite file under EQUILEARN_HOME)")
    audit.add_argument("--no-record", action="store_true", help="do not record the verdict (a dry run)")
    audit.add_argument("--reason", help="lift a FAIL recorded for the same content (recorded with the new verdict)")
    audit.add_argument("--no-mlflow", action="store_true", help="registered versions: do not also log the report on the "
                                                               "version in MLflow (informational tags for `model list`)")
    audit.set_defaults(handler=run_audit)


@contextmanager
def _reason_hint() -> Iterator[None]:
    """The store asks for a 'reason' to lift a FAIL; on the command line that is --reason."""
    from engine.errors import DataError

    try:
        yield
    except DataError as exc:
        if "needs a 'reason'" in str(exc):
            raise DataError(f"{exc}: give it with --reason TEXT") from None
        raise


def _open_store(url: str | None) -> Any:
    from engine.config import load_settings
    from engine.store import Store

    return Store.open(url) if url else Store.open(settings=load_settings())


def run_audit(args: argparse.Namespace) -> int:
    from engine.fairness.predeployment import AuditOptions, audit_model_set, exit_code, summary_lines

    if bool(args.file) == bool(args.name):
        raise ConfigError("give a registered model set (NAME VERSION) or --file SET.json, not both")
    if args.name and not args.version:
        raise ConfigError("give the version too: equilearn model audit NAME VERSION (see `equilearn model list`)")
    if args.file:
        from engine.runtime.modelset import read_model_set_file

        model_set, source = read_model_set_file(Path(args.file)), "file"
    else:
        from engine.registry import get_model_set

        model_set, source = get_model_set(args.name, args.version), "registry"
    responses = roster = None
    if args.data or args.roster:
        if not args.data:
            raise ConfigError("--roster needs --data: DIF and the model audit read the response log's students")
        if not args.format:
            raise ConfigError("--data needs --format (e.g. --format generic for a CSV with student_id, item_id, correct)")
        from engine.cli.audit import read_table
        from engine.data import load

        dataset = load(args.data, args.format, **loader_options(args, args.format))
        responses = dataset.responses
        roster = read_table(args.roster) if args.roster else dataset.roster
        if roster is None:
            raise ConfigError(f"--format {args.format} gives no group columns; pass --roster (student_id + group columns)")
    catalog = None
    if args.catalog:
        from engine.catalog import load_catalog

        catalog = load_catalog(args.catalog)
    from engine.fairness.gate import load_policy

    policy = load_policy(args.policy)
    if args.bootstrap is not None:
        policy = replace(policy, n_bootstrap=args.bootstrap)
    try:
        seeds = tuple(int(x) for x in args.suite_seeds.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"--suite-seeds must be comma-separated whole numbers, got {args.suite_seeds!r}") from None
    settings = tuple(x.strip() for x in args.suite_settings.split(",") if x.strip()) if args.suite_settings else None
    options = AuditOptions(sim_students=args.sim_students, sim_students_max=args.sim_students_max,
                           sim_steps=args.sim_steps, sim_seed=args.sim_seed,
                           suite_students=args.suite_students, suite_steps=args.suite_steps, suite_seeds=seeds or (1,),
                           **({"suite_settings": settings} if settings else {}), policy=policy,
                           dif_method=args.dif_method, dif_adjust=args.dif_adjust,
                           recommendations_policy=load_policy(args.recommendations_policy) if args.recommendations_policy else None)
    groups = [g.strip() for g in args.groups.split(",") if g.strip()] if args.groups else None
    data_name = Path(args.data).name if args.data else None  # the report is shown to audit keys: no local path
    report = audit_model_set(model_set, responses=responses, roster=roster, groups=groups, catalog=catalog,
                             options=options, source=data_name,
                             progress=lambda text: print(f"  {text}", file=sys.stderr, flush=True))
    report["model_set"]["source"] = source
    if args.out:  # the file only: stdout gets the summary
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
    print("\n".join(summary_lines(report)))
    version = f"{model_set.name}/{model_set.version}"
    if not args.no_record:
        with _open_store(args.database_url) as store, _reason_hint():
            record, created = store.record_audit(version, report["status"], report, may_lift=True,
                                                 reason=args.reason, by="equilearn model audit",
                                                 content_sha256=report["content_sha256"], data_sha256=report["data_sha256"])
        print(f"{'recorded' if created else 'already recorded'}: audit #{record.id} of {version} in the service's audit "
              f"table, bound to content sha256:{report['content_sha256'][:12]}", file=sys.stderr)
    if source == "registry" and not args.no_mlflow:
        from engine.registry import record_audit

        record_audit(model_set.name, model_set.version, report)
    if report["status"] == "PASS" and source == "registry":
        print(f"next: equilearn model promote {model_set.name} {model_set.version}", file=sys.stderr)
    return exit_code(report["status"])


def run_run(args: argparse.Namespace) -> int:
    from engine.experiment import load_config, run_experiment
    from engine.experiment.runner import result_json

    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    config = load_config(args.config, cli_root=args.data_root, max_students=args.max_students, seed=args.seed, models=models)
    parts = ["equilearn", "experiment", "run", args.config]
    for flag, value in (("--data-root", args.data_root), ("--max-students", args.max_students), ("--seed", args.seed),
                        ("--models", args.models)):
        if value is not None:
            parts += [flag, str(value)]
    command = " ".join(shlex.quote(p) for p in parts)
    if args.no_log_models:
        config = replace(config, log_models=False)
    result = run_experiment(config, progress=not args.no_progress and sys.stderr.isatty(), command=command)
    if args.markdown:
        path = Path(args.markdown)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(result.markdown)
    print(result.markdown, file=sys.stderr if args.out else sys.stdout)
    payload = result_json(result)
    if result.registered:
        print(result.registered["message"], file=sys.stderr)
    if args.out:
        write_json(payload, args.out)
    else:
        print(f"MLflow run: {result.run_id}")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from engine.experiment import compare_runs, format_table

    ids = [i.strip() for arg in args.run_ids for i in arg.split(",") if i.strip()]
    rows = compare_runs(ids)
    if args.json:
        write_json({"rows": rows}, None)
    else:
        print(format_table(rows, markdown=args.markdown), end="")
    return 0


def _read_audit(path: str) -> dict[str, Any]:
    payload = read_json(path, "audit result", ConfigError)
    if not isinstance(payload, dict) or "status" not in payload:
        raise ConfigError(f"{path}: not an audit result (no 'status' key); write one with `equilearn audit ... --out FILE`")
    return payload


def _check_bound(audit: dict[str, Any], path: str, name: str, version: str, digest: str) -> None:
    """An audit result may be recorded for a version only if it audited that version's content."""
    from engine.errors import AuditGateError

    theirs = audit.get("content_sha256")
    if theirs != digest:
        what = ("names no model-set content (no 'content_sha256'): it may be an audit of anything"
                if not theirs else f"audited other content (sha256:{str(theirs)[:12]})")
        raise AuditGateError(f"refusing {path} for model set {name!r} version {version} (content sha256:{digest[:12]}): "
                             f"the audit {what}. Audit this version: `equilearn model audit {name} {version}`")


def run_promote(args: argparse.Namespace) -> int:
    from engine.registry import get_model_set, promote, record_audit

    target = get_model_set(args.name, args.version)
    digest = target.content_sha256
    audits = [_read_audit(p) for p in args.audit]
    for audit, path in zip(audits, args.audit, strict=True):
        _check_bound(audit, path, args.name, target.version, digest)
    if args.policy:
        if not audits:
            raise ConfigError("--policy needs at least one --audit result to gate")
        from engine.fairness.gate import load_policy
        from engine.fairness.results import regate

        missing = [p for a, p in zip(audits, args.audit, strict=True) if "evidence" not in a]
        if missing:
            raise ConfigError(f"--policy re-gates stored evidence; {', '.join(missing)} carries none (a `model audit` "
                              "report is already one verdict: record it without --policy)")
        gate = regate(audits, load_policy(args.policy)).to_dict()
        audits = [{**gate, "audit": "gate", "sources": args.audit, "content_sha256": digest}]
    version = f"{target.name}/{target.version}"
    with _open_store(args.database_url) as store, _reason_hint():
        for audit in audits:
            record, _ = store.record_audit(version, audit["status"], audit, by="equilearn model promote --audit",
                                           may_lift=True, reason=args.reason,
                                           content_sha256=digest, data_sha256=audit.get("data_sha256"))
            run_id = record_audit(args.name, args.version, audit)
            print(f"recorded {audit.get('audit', 'audit')} audit: {audit['status']} (audit #{record.id}; MLflow run "
                  f"{run_id})", file=sys.stderr)
        ms = promote(args.name, args.version, alias=args.alias, verdict=store.content_verdict)
        store.bump_policy_generation()  # every server process on this database loads the policy again
        verdict = store.content_verdict(digest)
    print(f"promoted model set {ms.name!r} version {ms.version} to {args.alias!r} (audit #{verdict.id}: {verdict.status}, "
          f"content sha256:{digest[:12]})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from engine.registry import list_model_sets

    rows = list_model_sets()
    if args.json:
        write_json({"model_sets": rows}, None)
        return 0
    if not rows:
        print("no registered model sets")
        return 0
    keys = ["name", "version", "aliases", "audit_status", "code_version", "data_fingerprint"]
    cells = [[str(r[k] or "-") for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    for line in [keys, *cells]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
    return 0


def _build_log(args: argparse.Namespace) -> tuple[Any, Any, str]:
    """(responses, what followed each served resource or None, source description) from --data/--format or the
    service's event and served logs."""
    if args.from_store:
        from engine.modelbuild import read_store_log
        from engine.recommend.outcomes import follow_up_outcomes, mark_steered, read_served_lists, steered_answers
        from engine.config import load_settings
        from engine.store import Store

        store = Store.open(settings=load_settings())
        try:
            offers, answers = read_served_lists(store)
            responses = mark_steered(read_store_log(store), steered_answers(offers, answers))
            return responses, follow_up_outcomes(offers, answers), "service event log"
        finally:
            store.close()
    if not args.format:
        raise ConfigError("--data needs --format (e.g. --format generic for a CSV with student_id, item_id, correct)")
    from engine.data import load

    dataset = load(args.data, args.format, **loader_options(args, args.format))
    for drop in dataset.dropped:
        print(f"warning: {args.data}: {drop}", file=sys.stderr)
    return dataset.responses, None, f"{args.data} ({args.format})"


def run_build(args: argparse.Namespace) -> int:
    if not args.out and not args.register:
        raise ConfigError("say where the model set goes: --out FILE (serve it with EQUILEARN_MODEL_SET_FILE) "
                          "and/or --register NAME (MLflow)")
    from engine.modelbuild import build_model_set, format_table, register_built_set
    from engine.catalog import load_catalog
    from engine.runtime.modelset import write_model_set_file

    on_ray = resolve_engine(args.engine) == "ray"
    catalog = load_catalog(args.catalog)
    responses, outcomes, source = _build_log(args)
    name = args.name or args.register or "equilearn"
    options = {"predictor": args.predictor, "seed": args.seed, "test_fraction": args.test_fraction,
               "irt_model": args.model, "min_item_responses": args.min_item_responses,
               "ignore_unknown_items": args.ignore_unknown_items, "name": name, "source": source,
               "served_outcomes": outcomes, "mastery_success": args.mastery_success, "ability_share": args.ability_share,
               "apply_item_tags": args.apply_item_tags}
    if on_ray:
        from engine.distributed.cluster import cluster_cpus, ray_session  # imports ray
        from engine.distributed.kt import RayFitter

        with ray_session(args.ray_address) as ray:
            model_set, diagnostics = build_model_set(catalog, responses, fit=RayFitter(ray, cluster_cpus(ray)), **options)
    else:
        model_set, diagnostics = build_model_set(catalog, responses, **options)
    if args.json:
        write_json({"diagnostics": diagnostics.to_dict(), "predictor": diagnostics.predictor}, None)
    else:
        print(format_table(diagnostics))
    measured = model_set.components["build"].get("resource_effectiveness")
    if measured is not None:
        gone = f"; {measured['unknown_resources_total']} outcome resource(s) not in the catalog were left out" \
            if measured["unknown_resources_total"] else ""
        print(f"served log: {measured['outcomes']} served resource(s) followed by their item's answer, "
              f"{measured['resources_measured']} resource(s) measured{gone}", file=sys.stderr)
    if args.register:
        registered = register_built_set(args.register, model_set)
        model_set = replace(model_set, name=registered.name, version=registered.version)
        print(f"registered model set {registered.name!r} version {registered.version} (not audited yet); after its "
              f"audit passes: equilearn model promote {registered.name} {registered.version} --audit AUDIT.json",
              file=sys.stderr)
    if args.out:
        write_model_set_file(Path(args.out), model_set)
        print(f"wrote model set {model_set.name!r} version {model_set.version} to {args.out}; serve it with "
              f"EQUILEARN_MODEL_SET_FILE={args.out} equilearn serve", file=sys.stderr)
    return 0
