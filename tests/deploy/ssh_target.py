"""An SSH target on this host for the deploy tests: sshd on a free loopback port (its own
config and host key, started by hand: no systemd) and a user with passwordless sudo, as an
operator's inventory would reach a router."""
import os
import pwd
import socket
import subprocess
import time
from pathlib import Path

USER = "appliance-deploy"


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def ensure_user() -> Path:
    try:
        home = Path(pwd.getpwnam(USER).pw_dir)
    except KeyError:
        _run("useradd", "--create-home", "--shell", "/bin/bash", USER)
        home = Path(pwd.getpwnam(USER).pw_dir)
    _run("usermod", "--password", "*", USER)  # no password, but not locked: keys only
    sudoers = Path(f"/etc/sudoers.d/{USER}")
    sudoers.write_text(f"{USER} ALL=(ALL) NOPASSWD: ALL\n")
    sudoers.chmod(0o440)
    return home


def authorize(home: Path, public_key: str) -> None:
    ssh = home / ".ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    (ssh / "authorized_keys").write_text(public_key)
    entry = pwd.getpwnam(USER)
    for p in (ssh, ssh / "authorized_keys"):
        os.chown(p, entry.pw_uid, entry.pw_gid)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class SshTarget:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.key = tmp / "id_ed25519"
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key))
        authorize(ensure_user(), (tmp / "id_ed25519.pub").read_text())
        host_key = tmp / "ssh_host_ed25519_key"
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key))
        self.port = free_port()
        config = tmp / "sshd_config"
        config.write_text(f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
                          f"PidFile {tmp / 'sshd.pid'}\nPasswordAuthentication no\n"
                          "PubkeyAuthentication yes\nUsePAM no\nStrictModes no\n")
        Path("/run/sshd").mkdir(exist_ok=True)  # its privilege separation directory
        self.log = open(tmp / "sshd.log", "w")
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
                                     stderr=self.log)
        deadline = time.monotonic() + 10
        while not listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not start: {(tmp / 'sshd.log').read_text()}")
            time.sleep(0.1)

    def host_vars(self) -> dict:
        return {"ansible_connection": "ssh", "ansible_host": "127.0.0.1",
                "ansible_port": self.port, "ansible_user": USER,
                "ansible_ssh_private_key_file": str(self.key),
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
                "ansible_become": True, "ansible_python_interpreter": "/usr/bin/python3"}

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()
