"""Memory of an EPUB import, measured on a real gunicorn worker.

    .venv/bin/python bench/import_memory.py [--sizes 1 10 25] [--database-url URL]

Starts gunicorn (one sync worker, this project's settings) on a free port against a
fresh SQLite database in a temporary folder (or --database-url, which must be an empty
database of its own), creates a user, warms the worker up with a small upload, then
uploads generated EPUBs whose largest chapter holds 1, 10 and 25 MB of text. Before each
upload the worker's peak RSS is reset (/proc/PID/clear_refs); after it, the script reads
VmHWM (the peak during the import) and VmRSS (what the worker keeps) from
/proc/PID/status. Linux only. The report is printed as a Markdown table.

Targets (README): peak <= 8 x the largest chapter's text + a constant; RSS afterwards
within 50 MB of the baseline.
"""

import argparse
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
# Common English words, so the text reads (and compresses) like a book's.
WORDS = ["the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on"]
WORDS += ["not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "they", "you"]
WORDS += ["were", "her", "she", "there", "one", "all", "we", "their", "been", "has", "when", "who", "will"]
WORDS += ["more", "no", "if", "out", "so", "said", "what", "up", "its", "about", "into", "than", "them", "can"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 10, 25], help="largest chapter, MB of text")
    parser.add_argument("--database-url", help="an empty database of its own (default: SQLite in a temp folder)")
    parser.add_argument("--one-block", action="store_true", help="the big chapter as one <p> (one text node)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reader-import-memory-") as folder:
        rows = run(Path(folder), args.sizes, args.database_url, args.one_block)
    print(report(rows))


def run(folder, sizes, database_url, one_block):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url or f"sqlite:///{folder / 'db.sqlite3'}",
        "MEDIA_ROOT": str(folder / "media"),
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "DEBUG": "false",
        "REDIS_KEY_PREFIX": f"bench-import-{os.getpid()}",
        "CHAPTER_MAX_MB": str(int(max(sizes)) + 8),
        "BOOK_MAX_UPLOAD_MB": "200",
        "EPUB_MAX_UNCOMPRESSED_MB": "500",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_TIMEOUT": "600",
        "GUNICORN_MAX_REQUESTS": "0",
        "GUNICORN_LOG_LEVEL": "warning",
    }
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    shell = [python, "manage.py", "shell", "-v", "0", "-c", CREATE_USER]
    token = subprocess.run(shell, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout.split()[-1]
    port = free_port()
    env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
    server = subprocess.Popen(
        [python, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.wsgi:application"], cwd=ROOT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base)
        worker = worker_of(server.pid)
        upload(base, token, make_epub(0.05, one_block))  # warm-up: every import path loaded once
        upload(base, token, make_epub(0.05, one_block))
        baseline = status(worker)["VmRSS"]
        rows = []
        for size in sizes:
            data = make_epub(size, one_block)
            reset_peak(worker)
            started = time.monotonic()
            answer, body = upload(base, token, data)
            seconds = time.monotonic() - started
            memory = status(worker)
            rows.append(
                {
                    "chapter_mb": size,
                    "epub_mb": len(data) / MB,
                    "status": answer,
                    "chapters": body.get("chapter_count"),
                    "seconds": seconds,
                    "baseline_mb": baseline / 1024,
                    "peak_mb": memory["VmHWM"] / 1024,
                    "after_mb": memory["VmRSS"] / 1024,
                }
            )
        return rows
    finally:
        server.terminate()
        server.wait(30)


CREATE_USER = """
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
import uuid
user = get_user_model().objects.create_user(f"bench-import-{uuid.uuid4().hex[:8]}", password="bench-import-password-1")
print(Token.objects.create(user=user).key)
"""


def make_epub(chapter_mb, one_block=False):
    """An EPUB 3 with a small chapter, one chapter of `chapter_mb` MB of text, and a small one."""
    rng = random.Random(int(chapter_mb * 1000))
    chapters = [paragraphs(rng, 0.01), big_chapter(rng, chapter_mb, one_block), paragraphs(rng, 0.01)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/container.xml", CONTAINER)
        items = "".join(
            f'<item id="c{n}" href="c{n}.xhtml" media-type="application/xhtml+xml"/>' for n in range(len(chapters))
        )
        spine = "".join(f'<itemref idref="c{n}"/>' for n in range(len(chapters)))
        archive.writestr("OEBPS/content.opf", PACKAGE.format(title=f"{chapter_mb} MB", items=items, spine=spine))
        for n, body in enumerate(chapters):
            archive.writestr(f"OEBPS/c{n}.xhtml", DOCUMENT.format(title=f"Chapter {n + 1}", body=body))
    return buffer.getvalue()


def paragraphs(rng, megabytes):
    out, size = [], 0
    while size < megabytes * MB:
        text = " ".join(rng.choice(WORDS) for _ in range(90))
        out.append(f"<p>{text}.</p>\n")
        size += len(text) + 2
    return "".join(out)


def big_chapter(rng, megabytes, one_block):
    if not one_block:
        return "<h1>The long one</h1>\n" + paragraphs(rng, megabytes)
    words = " ".join(rng.choice(WORDS) for _ in range(int(megabytes * MB / 4)))
    return f"<h1>The long one</h1>\n<p>{words}</p>"


CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""
PACKAGE = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">bench</dc:identifier>
<dc:title>{title}</dc:title><dc:language>en</dc:language><dc:creator>Bench</dc:creator></metadata>
<manifest>{items}</manifest><spine>{spine}</spine></package>"""
DOCUMENT = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{title}</title></head><body>
{body}</body></html>"""


def upload(base, token, data):
    boundary = uuid.uuid4().hex
    body = b"".join(
        [
            f"--{boundary}\r\n".encode(),
            b'Content-Disposition: form-data; name="file"; filename="book.epub"\r\n',
            b"Content-Type: application/epub+zip\r\n\r\n",
            data,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    request = urllib.request.Request(f"{base}/api/v1/books/", data=body, method="POST")
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(base):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def worker_of(master):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise SystemExit("no gunicorn worker")


def reset_peak(pid):
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def status(pid):
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            values[name] = int(rest.split()[0])  # kB
    return values


def report(rows):
    lines = [
        "| largest chapter | EPUB | answer | seconds | baseline RSS | peak RSS | peak − baseline | "
        "× chapter | RSS after | after − baseline |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        growth, kept = row["peak_mb"] - row["baseline_mb"], row["after_mb"] - row["baseline_mb"]
        lines.append(
            f"| {row['chapter_mb']:g} MB | {row['epub_mb']:.1f} MB | {row['status']} | {row['seconds']:.1f} | "
            f"{row['baseline_mb']:.0f} MB | {row['peak_mb']:.0f} MB | {growth:.0f} MB | "
            f"{growth / row['chapter_mb']:.1f} | {row['after_mb']:.0f} MB | {kept:+.0f} MB |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
