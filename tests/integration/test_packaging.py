"""The default texts live in the top-level templates/sms/ and are found both from a checkout and
from an installed wheel (which carries them as app/templates/sms/)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from app.care import texts

ROOT = Path(__file__).resolve().parents[2]
CHECKOUT_TEXTS = sorted(p.name for p in (ROOT / "templates" / "sms").glob("*.txt"))


def test_a_checkout_reads_the_top_level_templates_folder():
    assert texts.SMS_TEMPLATES == ROOT / "templates" / "sms"
    assert "thank_you.txt" in CHECKOUT_TEXTS and len(CHECKOUT_TEXTS) >= 10
    assert not (ROOT / "app" / "templates" / "sms").exists()  # one copy, at the top
    assert (ROOT / "app" / "templates" / "web" / "base.html").is_file()  # pages stay put


def test_a_wheel_carries_the_texts_and_an_install_of_it_loads_them(tmp_path):
    # Build from a copy, so no stale build/ folder of the checkout can supply the files.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("app", "templates"):
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), "."],
        cwd=source,
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("regulars-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"app/templates/sms/{name}" for name in CHECKOUT_TEXTS} <= names
    assert {"app/templates/web/base.html", "app/static/app.js", "app/migrations/env.py"} <= names

    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site),
         str(wheel)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    probe = (
        "import json, app; from app.care import texts; print(json.dumps({'app': app.__file__, "
        "'folder': str(texts.SMS_TEMPLATES), 'kinds': sorted(p.name for p in "
        "texts.SMS_TEMPLATES.glob('*.txt')), 'text': texts.render('help', "
        "business_name='Bloom', business_phone=None)}))"
    )
    # -I: no checkout on the path and no user site; the installed copy is the only `app`.
    done = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); {probe}"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    )
    found = json.loads(done.stdout)
    assert found["app"].startswith(str(site))
    assert found["folder"] == str(site / "app" / "templates" / "sms")
    assert found["kinds"] == CHECKOUT_TEXTS
    assert found["text"].startswith("Bloom: reply to this text and a person will answer")
