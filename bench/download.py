"""Downloader throughput: ``dataset_builders.download`` vs img2dataset on the same loopback servers.

``python -m bench.download`` (or ``python -m bench.run download``). Four image servers listen on
127.0.0.1 ... 127.0.0.4 (four "domains"); both downloaders fetch the same 1,000 URLs of 640x480
JPEGs, keep images up to 800 px on the longest side (``keep_ratio_largest``, no upscaling, JPEG kept
as is when no resize is needed), write them to disk, and each runs in its own process with the same
budget: one process, ``CONCURRENCY`` concurrent downloads (img2dataset: ``thread_count``). The two
alternate for ``ROUNDS`` rounds; the time is the download call's own (process start-up excluded).

Ours runs with politeness on: robots.txt fetched per host and obeyed, per-domain concurrency and
per-domain request-rate limits, the SSRF guard (the loopback networks allow-listed), retries. The
frequent-domain rule is off (four domains each hold 25% of the URLs here). img2dataset has none of
these. img2dataset is installed by this script into ``bench/.venv-img2dataset`` (its own virtual
environment, so its pins never touch ours).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import ROUNDS, rates, report

ROOT = Path(__file__).resolve().parents[1]
I2D_VENV = ROOT / "bench" / ".venv-img2dataset"
N_URLS = 1000
HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")
CONCURRENCY = 32
PER_DOMAIN_CONCURRENCY = 16
PER_DOMAIN_RATE = 400.0  # requests/s per domain: a real limit (1,600/s over 4 domains) that still binds bursts

OURS = """
import json, sys, time
from dataset_builders.download import DownloadConfig, ImageDownloader
args = json.load(open(sys.argv[1]))
cfg = DownloadConfig(**args["config"])
dl = ImageDownloader(cfg, work_dir=args["out"])
t0 = time.perf_counter()
res = dl.download(args["urls"])
dl.close()
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "ok": sum(r.ok for r in res.values())}))
"""

IMG2DATASET = """
import glob, json, sys, time
from img2dataset import download
args = json.load(open(sys.argv[1]))
t0 = time.perf_counter()
download(url_list=args["url_file"], output_folder=args["out"], processes_count=1, thread_count=args["threads"],
         image_size=800, resize_mode="keep_ratio_largest", resize_only_if_bigger=True, skip_reencode=True,
         encode_format="jpg", encode_quality=95, output_format="files", input_format="txt", timeout=10,
         retries=0, enable_wandb=False, extract_exif=False, number_sample_per_shard=args["n"],
         compute_hash=None, distributor="multiprocessing")
dt = time.perf_counter() - t0
ok = sum(json.load(open(p))["successes"] for p in glob.glob(args["out"] + "/*_stats.json"))
print(json.dumps({"seconds": dt, "ok": ok}))
"""


def ensure_img2dataset() -> Path:
    """The img2dataset venv's python, creating the venv and installing img2dataset when needed."""
    python = I2D_VENV / "bin" / "python"
    probe = [str(python), "-c", "import img2dataset"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"installing img2dataset into {I2D_VENV} ...", flush=True)
    base = os.environ.get("PYTHON311", "python3.11")
    steps = [[base, "-m", "venv", str(I2D_VENV)], [str(python), "-m", "pip", "install", "-q", "img2dataset"]]
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"cannot install img2dataset: `{' '.join(cmd)}` failed with exit code "
                               f"{proc.returncode}:\n{(proc.stdout + proc.stderr)[-3000:]}")
    proc = subprocess.run(probe, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"img2dataset was installed but does not import:\n{proc.stderr[-3000:]}")
    return python


def _clean_env() -> dict[str, str]:
    """Environment for the child processes: no proxies (everything is on loopback), quiet libraries."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(NO_PROXY="*", no_proxy="*", NO_ALBUMENTATIONS_UPDATE="1", PYTHONPATH=str(ROOT),
               JA_VILA_LOG_LEVEL="WARNING")
    return env


def _run(python: Path, code: str, args: dict, tmp: Path, tag: str) -> dict:
    arg_file = tmp / f"{tag}.json"
    arg_file.write_text(json.dumps(args))
    # own session: on a timeout the whole group goes (img2dataset forks workers)
    proc = subprocess.Popen([str(python), "-c", code, str(arg_file)], cwd=ROOT, env=_clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=900)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"{tag} run failed (exit {proc.returncode}):\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def main() -> dict:
    from dataset_builders.download import DownloadConfig
    from dataset_builders.tiny.synthetic_images import make_image
    from ja_vila.servers.image_server import ImageServer

    python_i2d = ensure_img2dataset()
    servers = [ImageServer(host=h).start() for h in HOSTS]
    try:
        urls = [servers[i % len(servers)].url(f"/img/bench-dl-{i}.jpg") for i in range(N_URLS)]
        for i in range(N_URLS):  # warm the servers' image cache so neither side pays for generation
            make_image(f"bench-dl-{i}", 640, 480, "jpeg")
        cfg = DownloadConfig(max_concurrency=CONCURRENCY, per_domain_concurrency=PER_DOMAIN_CONCURRENCY,
                             per_domain_rate=PER_DOMAIN_RATE, allow_networks=("127.0.0.0/8",),
                             frequent_domain_max_share=None, max_side=800, decode_workers=2,
                             connect_timeout=10, read_timeout=10, request_timeout=30, max_retries=0)
        seconds: dict[str, list[float]] = {"img2dataset": [], "ours": []}
        with tempfile.TemporaryDirectory(prefix="bench-download-") as tmpdir:
            tmp = Path(tmpdir)
            (tmp / "urls.txt").write_text("\n".join(urls) + "\n")
            for rep in range(ROUNDS):  # img2dataset, ours, img2dataset, ours, ...
                for tag in ("img2dataset", "ours"):
                    out = tmp / f"{tag}-{rep}"
                    if tag == "ours":
                        r = _run(Path(sys.executable), OURS,
                                 {"config": cfg.to_dict(), "out": str(out), "urls": urls}, tmp, tag)
                    else:
                        r = _run(python_i2d, IMG2DATASET, {"url_file": str(tmp / "urls.txt"), "out": str(out),
                                                           "threads": CONCURRENCY, "n": N_URLS}, tmp, tag)
                    if r["ok"] != N_URLS:
                        raise RuntimeError(f"{tag} fetched {r['ok']} of {N_URLS} images")
                    seconds[tag].append(r["seconds"])
                    shutil.rmtree(out, ignore_errors=True)
        robots = sum(s.hits["/robots.txt"] for s in servers)
    finally:
        for s in servers:
            s.stop()
    return report("download", rates(N_URLS, seconds["ours"]), rates(N_URLS, seconds["img2dataset"]), "images/s",
                  "img2dataset", urls=N_URLS, domains=len(HOSTS), concurrency=CONCURRENCY,
                  per_domain_rate=PER_DOMAIN_RATE, robots_fetches=robots)

if __name__ == "__main__":
    try:
        main()
    except RuntimeError as e:
        print(f"bench.download failed: {e}", file=sys.stderr)
        sys.exit(1)
