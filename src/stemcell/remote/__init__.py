"""Talking to servers: SSH (paramiko), HTTP probes, and how addresses are dialled."""
