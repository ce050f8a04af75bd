"""Every setting of the capture service, defined once. ``docs/configuration.md`` lists them all."""

from __future__ import annotations

from collections.abc import Mapping

from mailcapture.config import (
    ConfigError,
    Setting,
    Settings,
    load,
    log_level_setting,
    parse_addr,
    parse_bool,
    parse_duration,
    parse_int,
    parse_size,
    parse_str,
    parse_url,
)

SETTINGS: tuple[Setting, ...] = (
    Setting("smtp_addr", "MAILCAPTURE_SMTP_ADDR", "127.0.0.1:1025",
            "Address (HOST:PORT) the SMTP server listens on.", parse_addr),
    Setting("http_addr", "MAILCAPTURE_HTTP_ADDR", "127.0.0.1:8025",
            "Address (HOST:PORT) the HTTP API and web inbox listen on.", parse_addr),
    Setting("data_dir", "MAILCAPTURE_DATA_DIR", "./data",
            "Directory of the embedded SQLite database (created if missing).", parse_str),
    Setting("db_file", "MAILCAPTURE_DB_FILE", "mailcapture.db",
            "SQLite database file name inside the data directory.", parse_str),
    Setting("compression", "MAILCAPTURE_COMPRESSION", "1",
            "zstd level for stored raw messages: 0 = off, 1 (fast) to 3 (smaller). Changing it never "
            "rewrites stored messages.", parse_int(0, 3)),
    Setting("decode_parts", "MAILCAPTURE_DECODE_PARTS", "true",
            "Keep big base64 attachments decoded (after the 250, in the background): downloads and previews "
            "then read them as they are; /raw still returns the exact bytes received (the base64 is rebuilt). "
            "'false' leaves new messages as received.", parse_bool),
    Setting("disable_wal", "MAILCAPTURE_DISABLE_WAL", "false",
            "Turn SQLite's write-ahead log off (use on network file systems such as NFS).", parse_bool),
    Setting("tenant_id", "MAILCAPTURE_TENANT_ID", "",
            "Tenant id: prefixes every table (sanitised to [a-zA-Z0-9_]) so tenants share one database.",
            parse_str),
    Setting("max_messages", "MAILCAPTURE_MAX_MESSAGES", "500",
            "Keep at most this many messages; older ones are pruned in the background (0 = no limit).",
            parse_int(0)),
    Setting("max_age", "MAILCAPTURE_MAX_AGE", "0",
            "Prune messages older than this (seconds, or 30m, 12h, 7d; 0 = no limit).", parse_duration),
    Setting("max_message_size", "MAILCAPTURE_MAX_MESSAGE_SIZE", "50M",
            "Largest message accepted over SMTP (bytes, or 512k, 50M); larger gets 552 and nothing stored.",
            parse_size),
    Setting("smtp_memory_budget", "MAILCAPTURE_SMTP_MEMORY_BUDGET", "256M",
            "Message bytes held at once across all SMTP connections (receiving and storing); a message "
            "that does not fit is answered 452 so the client retries later (0 = no limit).",
            lambda raw: 0 if raw.strip() == "0" else parse_size(raw)),
    Setting("max_recipients", "MAILCAPTURE_MAX_RECIPIENTS", "100",
            "Most RCPT TO per message; more get 452.", parse_int(1)),
    Setting("smtp_auth", "MAILCAPTURE_SMTP_AUTH", "off",
            "SMTP AUTH PLAIN/LOGIN: 'off', 'any' (accept any credentials) or 'file' (see "
            "MAILCAPTURE_SMTP_AUTH_FILE).", parse_str, choices=("off", "any", "file")),
    Setting("smtp_auth_file", "MAILCAPTURE_SMTP_AUTH_FILE", "",
            "Credentials file for SMTP AUTH, one 'user:password' per line.", parse_str),
    Setting("smtp_auth_require", "MAILCAPTURE_SMTP_AUTH_REQUIRE", "false",
            "Refuse MAIL FROM until the client authenticated (only with AUTH on).", parse_bool),
    Setting("smtp_tls_cert", "MAILCAPTURE_SMTP_TLS_CERT", "",
            "PEM certificate for STARTTLS (STARTTLS is offered when cert and key are set).", parse_str),
    Setting("smtp_tls_key", "MAILCAPTURE_SMTP_TLS_KEY", "",
            "PEM private key for STARTTLS.", parse_str, secret=False),
    Setting("smtp_hostname", "MAILCAPTURE_SMTP_HOSTNAME", "mailcapture",
            "Host name the SMTP server announces in its greeting.", parse_str),
    Setting("previewer_url", "MAILCAPTURE_PREVIEWER_URL", "http://127.0.0.1:8088",
            "Where the previewer listens: used to prewarm thumbnails, for /api/v1/message/{ID}/part/"
            "{PartID}/thumb and to forward /preview/ when no nginx is in front (empty = no previewer).",
            parse_url),
    Setting("prune_interval", "MAILCAPTURE_PRUNE_INTERVAL", "10s",
            "How often retention pruning runs in the background.", parse_duration),
    log_level_setting("MAILCAPTURE_LOG_LEVEL"),
)


def load_settings(env: Mapping[str, str] | None = None,
                  flags: Mapping[str, str | None] | None = None) -> Settings:
    """Load and validate; raises ``ConfigError`` with a clear message on a bad value."""
    settings = load(SETTINGS, env, flags)

    if settings.smtp_auth == "file" and not settings.smtp_auth_file:
        raise ConfigError("MAILCAPTURE_SMTP_AUTH=file needs MAILCAPTURE_SMTP_AUTH_FILE")
    if settings.smtp_memory_budget and settings.smtp_memory_budget < settings.max_message_size:
        raise ConfigError("MAILCAPTURE_SMTP_MEMORY_BUDGET must be 0 or at least MAILCAPTURE_MAX_MESSAGE_SIZE")
    if bool(settings.smtp_tls_cert) != bool(settings.smtp_tls_key):
        raise ConfigError("STARTTLS needs both MAILCAPTURE_SMTP_TLS_CERT and MAILCAPTURE_SMTP_TLS_KEY")
    return settings
