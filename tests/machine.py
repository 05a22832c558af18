"""A machine of the test's own, for tests that start daemons (rsyslogd,
systemd-journald, sshd) and make real logins, sudo and su: private mount,
network, pid and host-name namespaces (unshare), so that nothing else on
this machine (its /dev/log, its syslog, its sshd, its users) changes what
a test sees, and nothing a test does reaches it.

Inside, the machine has a private copy of /etc (users added there stay
there), empty /run, /var/log and /dev (with the device nodes programs need
and a /dev/log of its own), a loopback network that is up, and the host
name HOST.  Its files live in a folder of the test's, so that authwatch,
which runs outside beside the Pushover stand-in, reads the log and the
journal where the daemons wrote them.  Stopping the machine ends every
process in it: they are in its pid namespace.
"""

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time

HOST = "testhost"
# What the machine's pid 1 makes of the namespaces before it waits: the
# paths are passed as $1 (the machine's folder).
MAKE_MACHINE = r"""
set -eu
top=$1
mount -t proc proc /proc
cp -a /etc "$top/etc"
printf '127.0.0.1 localhost %s\n' "$(cat /proc/sys/kernel/hostname)" > "$top/etc/hosts"
mount --bind "$top/etc" /etc
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/sshd /run/log/journal "$top/journal"
mount --bind "$top/journal" /run/log/journal
mount -t tmpfs -o mode=755 tmpfs /var/log
mkdir "$top/host-dev"
mount --rbind /dev "$top/host-dev"
mount -t tmpfs -o mode=755 tmpfs /dev
for node in null zero full random urandom tty; do
    touch "/dev/$node"
    mount --bind "$top/host-dev/$node" "/dev/$node"
done
umount -l "$top/host-dev"
mkdir /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /dev/pts
ln -s pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
ip link set lo up
touch "$top/ready"
exec sleep infinity
"""
TOOLS = ("unshare", "nsenter", "ip", "setpriv")


def missing_tools():
    """Return why no machine can be made here (not root, tools missing), or None."""
    if os.geteuid() != 0:
        return "needs root to make namespaces"
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    return f"needs {', '.join(missing)} (util-linux, iproute2)" if missing else None


class Machine:
    """A private machine in its own namespaces; see the module's docstring."""

    def __init__(self, folder):
        self.folder = folder
        self.folder.mkdir()
        os.chmod(self.folder, 0o755)  # daemons read keys in it as other users
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--net", "--pid", "--uts", "--fork", "--propagation",
             "private", "sh", "-c", f"hostname {HOST}; {MAKE_MACHINE}", "sh", str(folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.wait_for(
            lambda: (folder / "ready").exists(), "the machine to be made", check_holder=True
        )
        self.pid = child_of(self.holder.pid)  # the machine's pid 1, as the host knows it

    def command(self, *argv, user=None):
        """Given a command and a user to run it as (None: root), return the
        argument list that runs it inside the machine."""
        enter = ["nsenter", "--target", str(self.pid), "--mount", "--net", "--pid", "--uts"]
        if user:
            enter += ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups"]
        return [*enter, "--", *argv]

    def run(self, *argv, user=None, check=True, timeout=60, **options):
        """Run a command inside the machine and wait for it; return the
        CompletedProcess (output captured as text unless told otherwise)."""
        options.setdefault("capture_output", True)
        options.setdefault("text", True)
        done = subprocess.run(self.command(*argv, user=user), timeout=timeout, **options)
        if check and done.returncode:
            raise AssertionError(f"{shlex.join(argv)} failed ({done.returncode}): {done.stderr}")
        return done

    def start(self, *argv, user=None, **options):
        """Start a daemon inside the machine; return its Popen (it ends with the machine)."""
        options.setdefault("stdout", subprocess.DEVNULL)
        options.setdefault("stderr", subprocess.DEVNULL)
        return subprocess.Popen(self.command(*argv, user=user), **options)

    def shell(self, script, user=None, **options):
        """Run a shell script inside the machine; return the CompletedProcess."""
        return self.run("sh", "-c", script, user=user, **options)

    def exists(self, path):
        """Given a path as the machine sees it, return whether it is there."""
        return self.run("test", "-e", path, check=False).returncode == 0

    def wait_for(self, condition, what, seconds=30, check_holder=False):
        """Wait until condition() holds; fail saying what was awaited."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return
            if check_holder and self.holder.poll() is not None:
                raise AssertionError(f"the machine failed: {self.holder.stderr.read().decode()}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def add_user(self, name, password=None, shell="/bin/sh"):
        """Add a user to the machine's own /etc, with a home in its folder."""
        home = self.folder / "home" / name
        home.mkdir(parents=True)
        self.run("useradd", "-M", "-d", str(home), "-s", shell, name)
        os.chown(home, *self.ids(name))
        if password:
            self.run("chpasswd", input=f"{name}:{password}\n")
        return home

    def ids(self, name):
        """Given a user of the machine, return its (uid, gid)."""
        uid, gid = self.run("sh", "-c", f"id -u {name}; id -g {name}").stdout.split()
        return int(uid), int(gid)

    def rsyslog(self, log, config=""):
        """Start rsyslogd, listening on the machine's /dev/log and writing
        the auth and authpriv facilities to log (a path in the test's
        folder), with more config lines if given; wait until it writes."""
        conf = self.folder / "rsyslog.conf"
        conf.write_text(
            f'module(load="imuxsock")\n$WorkDirectory {self.folder}\n{config}'
            f"auth,authpriv.* {log}\n"
        )
        self.start("/usr/sbin/rsyslogd", "-n", "-f", str(conf), "-i", str(self.folder / "rs.pid"))
        self.wait_for(lambda: self.exists("/dev/log"), "rsyslogd's /dev/log")
        self.run("logger", "-p", "auth.info", "-t", "setup", "the machine starts")
        self.wait_for(lambda: log.exists() and log.stat().st_size > 0, "rsyslogd to write")

    def journald(self):
        """Start systemd-journald with /dev/log its own; return the folder
        (in the test's folder) where it writes the journal files."""
        self.journal_daemon = self.start("/lib/systemd/systemd-journald")
        self.wait_for(lambda: self.exists("/run/systemd/journal/dev-log"), "journald's sockets")
        self.run("ln", "-s", "/run/systemd/journal/dev-log", "/dev/log")
        return self.folder / "journal"

    def pause_journald(self):
        """Stop journald from reading its sockets until the block ends:
        what is sent meanwhile waits in the socket, and is read after its
        sender may have gone."""
        return pause(child_of(self.journal_daemon.pid), self.journal_daemon.pid)

    def sync_journal(self):
        """Wait until journald has written what was sent to it (journalctl --sync)."""
        self.run("journalctl", "--sync")

    def sshd(self, config_lines, port=22):
        """Start sshd on 127.0.0.1 with a host key of its own and the given
        config lines; return the port."""
        key = self.folder / "ssh_host_ed25519_key"
        if not key.exists():
            self.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
        config = self.folder / "sshd_config"
        config.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {key}\n"
            f"PidFile {self.folder / 'sshd.pid'}\n{config_lines}"
        )
        self.start("/usr/sbin/sshd", "-D", "-f", str(config))
        probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), 1).close()"
        self.wait_for(
            lambda: self.run("python3", "-c", probe, check=False).returncode == 0, "sshd to listen"
        )
        return port

    def stop(self):
        """End every process in the machine, and the machine."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)  # pid 1: the kernel ends the rest
        self.holder.wait(timeout=30)
        self.holder.stderr.close()


def child_of(pid):
    """Given the pid of nsenter (or unshare), return the pid of the process
    it started in the machine, once it has."""
    for _ in range(100):
        with open(f"/proc/{pid}/task/{pid}/children") as file:
            children = file.read().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise AssertionError(f"process {pid} started nothing")


@contextlib.contextmanager
def pause(pid, nsenter):
    """Given a process in the machine and the nsenter that started it, stop
    the process (SIGSTOP) until the block ends (SIGCONT).  nsenter stops
    itself when its child stops, and would then never reap it: it is
    continued too."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)
        os.kill(nsenter, signal.SIGCONT)
