"""Operations: systemd units, example configs, config show, metrics, sd_notify."""
