"""``python -m mailcapture.stack run|render|check``: the whole stack under supervisor.

``run`` renders the configs and replaces itself with supervisord (so SIGTERM/Ctrl-C reach it and it
stops every program). Where nginx is missing (or STACK_NGINX=off) the two services run without it
and that is said on start.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from mailcapture.config import ConfigError, load
from mailcapture.settings import load_settings
from mailcapture.stack.render import Layout, find_nginx, render_nginx, render_supervisord
from mailcapture.stack.settings import SETTINGS
from previewer.settings import load_settings as load_previewer_settings

NGINX_TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def render(layout: Layout) -> tuple[bool, str | None, str]:
    """Write the configs; returns (nginx on, nginx binary, a line saying what runs)."""
    stack = load(SETTINGS)
    capture = load_settings()
    previewer = load_previewer_settings()
    layout.runtime.mkdir(parents=True, exist_ok=True)
    for sub in NGINX_TEMP_DIRS:
        (layout.runtime / "nginx" / sub).mkdir(parents=True, exist_ok=True)
    nginx_bin = find_nginx() if stack.stack_nginx != "off" else None
    if stack.stack_nginx == "on" and nginx_bin is None:
        raise ConfigError("STACK_NGINX=on but no nginx binary was found (install Debian's nginx)")
    with_nginx = nginx_bin is not None
    layout.nginx_conf.write_text(render_nginx(stack, capture, previewer.http_addr, layout))
    layout.supervisord_conf.write_text(render_supervisord(layout, with_nginx, nginx_bin))
    host, port = stack.stack_http_addr
    chost, cport = capture.http_addr
    if with_nginx:
        said = f"stack: nginx on http://{host}:{port}/ in front of the capture service and the previewer"
    else:
        said = (f"stack: nginx not found or off: running the two services without it; "
                f"inbox and API at http://{chost}:{cport}/ (previews forwarded by the capture service)")
    return with_nginx, nginx_bin, said


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mailcapture.stack")
    parser.add_argument("command", choices=("run", "render", "check"))
    args = parser.parse_args(argv)
    try:
        stack = load(SETTINGS)
        layout = Layout(Path(stack.stack_runtime_dir).resolve())
        with_nginx, nginx_bin, said = render(layout)
    except ConfigError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 2
    if args.command == "render":
        print(f"wrote {layout.nginx_conf} and {layout.supervisord_conf}")
        return 0
    if args.command == "check":
        if nginx_bin is None:
            print("stack: no nginx binary to check the config with", file=sys.stderr)
            return 1
        return subprocess.call([nginx_bin, "-t", "-q", "-c", str(layout.nginx_conf)])
    print(said, flush=True)
    supervisord = Path(sys.executable).with_name("supervisord")
    cmd = [str(supervisord) if supervisord.exists() else "supervisord", "-n", "-c", str(layout.supervisord_conf)]
    os.execvp(cmd[0], cmd)
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
