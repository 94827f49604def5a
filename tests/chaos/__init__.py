"""The chaos harness: real processes killed at random while sessions grow; nothing lost or doubled."""
