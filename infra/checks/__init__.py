"""The parts of infra/check.py: Kubernetes, Dataflow and Docker."""
