"""The chaos harness: processes killed at random as sessions grow; nothing lost, nothing twice."""
