"""What every part of the deployment checks shares: the repository's folders, the report and
paths relative to the repository."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
INFRA = ROOT / "infra"
K8S = INFRA / "k8s"
DATAFLOW = INFRA / "dataflow"
WORKER_DOCKER = INFRA / "docker" / "worker"
MAIN_CLASS = "dev.genloom.pipelines.GeneratePipeline"
SERVICE = "genloom.v1.GenerationService"
QUEUE_METRIC = "genloom_queue_depth"

class Report:
    def __init__(self):
        self.errors = []
        self.warnings = []
        self.passed = 0
        self.notes = []

    def check(self, ok, where, message):
        """Counts a passed check, or records an error; returns ok."""
        if ok:
            self.passed += 1
        else:
            self.errors.append(f"{where}: {message}")
        return ok

    def error(self, where, message):
        self.errors.append(f"{where}: {message}")

    def warn(self, where, message):
        self.warnings.append(f"{where}: {message}")

    def note(self, message):
        self.notes.append(message)
        print(f"  {message}")


def rel(path):
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)



def parse_args(args):
    """`--name=value` / `--name value` flags of a container's args into a dict (lists kept)."""
    flags = {}
    i = 0
    args = [str(a) for a in (args or [])]
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            if "=" in a:
                name, value = a[2:].split("=", 1)
            elif i + 1 < len(args) and not args[i + 1].startswith("--"):
                name, value = a[2:], args[i + 1]
                i += 1
            else:
                name, value = a[2:], ""
            flags.setdefault(name, []).append(value)
        i += 1
    return flags


def flag(flags, name):
    """The last value of --name, or None. The checks do not assume `genloom worker`'s defaults:
    a deployment that depends on a port or a drain time passes it."""
    values = flags.get(name)
    if values:
        return values[-1]
    return None
