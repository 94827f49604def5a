"""Watch: which directories hold session files, and noticing when those files change."""
