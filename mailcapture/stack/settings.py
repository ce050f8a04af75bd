"""Settings of the whole-stack launcher (nginx + capture service + previewer under supervisor)."""

from __future__ import annotations

from mailcapture.config import Setting, parse_addr, parse_duration, parse_size, parse_str

SETTINGS: tuple[Setting, ...] = (
    Setting("stack_http_addr", "STACK_HTTP_ADDR", "127.0.0.1:8080",
            "Public HTTP address nginx listens on (the container uses 0.0.0.0:8080).", parse_addr),
    Setting("stack_nginx", "STACK_NGINX", "auto",
            "'auto' runs nginx in front when the binary is found, 'on' requires it, 'off' never runs it.",
            parse_str, choices=("auto", "on", "off")),
    Setting("stack_runtime_dir", "STACK_RUNTIME_DIR", "./var",
            "Directory for generated configs, pid files, sockets and nginx temp files.", parse_str),
    Setting("stack_previewer_upstreams", "STACK_PREVIEWER_UPSTREAMS", "",
            "Extra previewer instances for nginx's upstream (comma-separated 127.0.0.1:PORT or IP:PORT); the "
            "local previewer is always listed.", parse_str),
    Setting("stack_nginx_template", "STACK_NGINX_TEMPLATE", "",
            "nginx config template to render (empty = nginx/nginx.conf.template of the source tree).", parse_str),
    Setting("stack_access_log", "STACK_ACCESS_LOG", "/dev/stdout",
            "Where nginx writes its access log (a file path, or /dev/stdout to join the stack's log).", parse_str),
    Setting("stack_client_max_body_size", "STACK_CLIENT_MAX_BODY_SIZE", "100M",
            "Largest request body nginx accepts (e.g. POST /api/v1/send).", parse_size),
    Setting("stack_preview_read_timeout", "STACK_PREVIEW_READ_TIMEOUT", "150s",
            "How long nginx waits for a thumbnail; keep it above THUMBNAIL_TASK_TIMEOUT so the previewer "
            "answers 504 itself.", parse_duration),
)
