"""The service face: jobs in lvmkit.toml, retention, systemd timers, metrics, notifications."""
