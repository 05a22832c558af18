"""The Debian package, built with dpkg-buildpackage and unpacked with dpkg -x,
runs with Debian's own python3 and libraries; the wheel and the sdist that
python -m build makes carry complete metadata, and pipx installs the wheel
into a home of its own."""

import email
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from helpers import TOKEN, USER_KEY

TOP = Path(__file__).parent.parent
DEBIAN = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LC_ALL": "C.UTF-8"}
# the rules' modules, which every form of authwatch carries beside it
RULE_MODULES = {path.name for path in (TOP / "authwatch_rules").glob("*.py")}
DEMO = ["--dry-run", "--from-start", "--log", "sample/auth.log", "--state-dir", "sample/state"]


def tree_copy(tmp_path):
    """Copy the project's files (as git knows them) into tmp_path; return it."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=TOP,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    copy = tmp_path / "authwatch"
    for name in listed:
        if (TOP / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TOP / name, copy / name)
    return copy


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory):
    """Build the .deb in a copy of the project; return the tree dpkg -x makes of it."""
    if not shutil.which("dpkg-buildpackage", path=DEBIAN["PATH"]):
        pytest.skip("needs dpkg-buildpackage, debhelper and dh-python (scripts/test installs them)")
    work = tmp_path_factory.mktemp("deb")
    source = tree_copy(work)
    built = subprocess.run(
        ["dpkg-buildpackage", "-us", "-uc", "-b"],
        cwd=source,
        env=DEBIAN,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    [deb] = work.glob("authwatch_*_all.deb")
    fields = subprocess.run(
        ["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True
    )
    tree = work / "root"
    subprocess.run(["dpkg", "-x", str(deb), str(tree)], check=True)
    return tree, email.message_from_string(fields.stdout)


def debian_python(tree, *argv, **kwargs):
    """Run the packaged authwatch with Debian's python3 and libraries."""
    env = {**DEBIAN, "PYTHONPATH": str(tree / "usr/lib/python3/dist-packages")}
    command = ["/usr/bin/python3", str(tree / "usr/bin/authwatch"), *argv]
    return subprocess.run(command, env=env, capture_output=True, text=True, cwd=TOP, **kwargs)


def test_the_package_holds_the_command_its_docs_units_and_man_page(unpacked):
    tree, fields = unpacked
    assert fields["Package"] == "authwatch" and fields["Architecture"] == "all"
    depends = fields["Depends"]
    assert "python3-requests" in depends and "python3-urllib3" in depends
    assert "(>= 2" not in depends  # Debian 12's urllib3 1.26 does
    assert fields["Recommends"] == "python3-systemd"
    assert (tree / "usr/bin/authwatch").read_text().startswith("#!/usr/bin/python3\n")
    rules = tree / "usr/lib/python3/dist-packages/authwatch_rules"
    assert {path.name for path in rules.glob("*.py")} == RULE_MODULES
    example = tree / "usr/share/doc/authwatch/config.example.ini"
    assert example.read_text() == (TOP / "config.example.ini").read_text()
    assert (tree / "usr/share/man/man1/authwatch.1.gz").exists()
    service = (tree / "lib/systemd/system/authwatch.service").read_text()
    assert "\nExecStart=/usr/bin/authwatch\n" in service
    assert (tree / "lib/systemd/system/authwatch.timer").exists()
    assert not (tree / "etc/systemd").exists()  # installed, not enabled: setup's work
    scripts = tree.parent / "control"
    subprocess.run(
        ["dpkg-deb", "-e", str(next(tree.parent.glob("*.deb"))), str(scripts)], check=True
    )
    assert "authwatch setup --remove" in (scripts / "prerm").read_text()
    assert "rm -rf /var/lib/authwatch" in (scripts / "postrm").read_text()


def test_the_package_runs_the_demo_with_debians_own_libraries(unpacked):
    tree, _ = unpacked
    version = debian_python(tree, "--version")
    assert (version.returncode, version.stdout) == (0, "authwatch 0.1.0\n")
    demo = debian_python(tree, *DEMO)
    assert demo.returncode == 0, demo.stderr
    assert demo.stdout.startswith("=== web1: NEW origin: SSH login bob from 203.0.113.77")


def test_the_package_sends_with_debians_requests_and_urllib3(unpacked, tmp_path, httpserver):
    tree, _ = unpacked
    httpserver.expect_oneshot_request("/1/messages.json").respond_with_data("busy", status=503)
    httpserver.expect_request("/1/messages.json").respond_with_json({"status": 1, "request": "d"})
    config = tmp_path / "authwatch.ini"
    url = httpserver.url_for("/1/messages.json")
    config.write_text(f"[pushover]\ntoken = {TOKEN}\nuser = {USER_KEY}\napi_url = {url}\n")
    config.chmod(0o600)
    sent = debian_python(
        tree, "--config", str(config), "--state-dir", str(tmp_path / "state"), "--test-notification"
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == 'Pushover accepted the test message: {"status": 1, "request": "d"}\n'
    assert len(httpserver.log) == 2  # the 503 was retried, as urllib3 1.26 does it


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """Build the wheel and the sdist from a copy of the project; return their folder."""
    work = tmp_path_factory.mktemp("dist")
    source = tree_copy(work)
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--no-isolation",
            "--outdir",
            str(work / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return work / "dist"


def test_the_wheel_and_sdist_carry_complete_metadata(dist):
    [wheel] = dist.glob("authwatch-*.whl")
    [sdist] = dist.glob("authwatch-*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [metadata] = [name for name in names if name.endswith(".dist-info/METADATA")]
        fields = email.message_from_bytes(archive.read(metadata))
    assert "authwatch.py" in names
    assert {f"authwatch_rules/{name}" for name in RULE_MODULES} <= set(names)
    assert any(name.endswith("share/doc/authwatch/config.example.ini") for name in names)
    assert fields["License"] == "MIT"
    assert fields.get_all("Project-URL")
    assert "License :: OSI Approved :: MIT License" in fields.get_all("Classifier")
    assert set(fields.get_all("Provides-Extra")) >= {"journald", "geoip"}
    assert 'Requires-Dist: maxminddb>=2.0; extra == "geoip"' in str(fields) or any(
        "maxminddb" in requirement for requirement in fields.get_all("Requires-Dist")
    )
    with tarfile.open(sdist) as archive:
        paths = archive.getnames()
        members = {Path(name).name for name in paths}
    assert {"LICENSE", "README.md", "config.example.ini", "authwatch.py"} <= members
    assert {f"authwatch_rules/{name}" for name in RULE_MODULES} <= {
        "/".join(Path(path).parts[-2:]) for path in paths
    }
    assert {"conftest.py", "helpers.py", "auth.log", "logins.json", "control"} <= members


def test_pipx_installs_the_wheel_into_a_home_of_its_own(dist, tmp_path):
    [wheel] = dist.glob("authwatch-*.whl")
    home = tmp_path / "home"
    env = {
        **os.environ,
        "HOME": str(home),
        "PIPX_HOME": str(home / "pipx"),
        "PIPX_BIN_DIR": str(home / "bin"),
    }
    pipx = [sys.executable, "-m", "pipx"]
    installed = subprocess.run(
        [*pipx, "install", str(wheel)], env=env, capture_output=True, text=True
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    command = home / "bin" / "authwatch"
    version = subprocess.run([command, "--version"], capture_output=True, text=True, env=env)
    assert (version.returncode, version.stdout) == (0, "authwatch 0.1.0\n")
    demo = subprocess.run([command, *DEMO], capture_output=True, text=True, env=env, cwd=TOP)
    assert demo.returncode == 0, demo.stderr
    assert "=== web1: SSH login alice from 192.0.2.10 [priority 0]" in demo.stdout
