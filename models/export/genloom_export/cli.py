"""Command-line glue shared by the exporters: the parser, the --self-test / --keep flags of exporters that
have a self-test, the choice between a real export and the self-test, and the self-test's clean-up."""
import argparse
import shutil


def parser(doc):
    """An ArgumentParser whose description is the first paragraph of the script's docstring."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def add_self_test_args(ap, what):
    ap.add_argument("--self-test", action="store_true", help=what)
    ap.add_argument("--keep", help="with --self-test: write under this folder instead of a temporary one")


def run(ap, required, export, self_test=None):
    """Parse; run `self_test(keep)` with --self-test (when the exporter has one), else check the `required`
    options and export."""
    a = ap.parse_args()
    if self_test is not None and a.self_test:
        self_test(a.keep)
        return
    if any(getattr(a, r) is None for r in required):
        ap.error(" and ".join("--" + r for r in required) + " are required"
                 + (" (or --self-test)" if self_test is not None else ""))
    export(a)


def finish_self_test(out, root, keep, detail=""):
    """Report success and remove the temporary package unless --keep named a folder."""
    print(f"self-test passed: package {out}{detail}")
    if keep is None:
        shutil.rmtree(root)
        print("(temporary package removed; --keep DIR keeps it)")
    return out
