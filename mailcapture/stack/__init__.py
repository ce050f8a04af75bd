"""The whole stack on one machine: nginx in front of the capture service and the previewer, under
supervisor (which restarts the previewer when it exits, e.g. past its memory limit)."""
