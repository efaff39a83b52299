"""Exporters that turn diffusers pipelines and other models into Genloom packages."""
